"""The client's address, the one place that decides it: rate limits, django-axes and logs all call
``client_ip``.

Behind ``TRUSTED_PROXY_COUNT`` reverse proxies (a TLS terminator, a load balancer) every request arrives from
the nearest proxy, so ``REMOTE_ADDR`` is the same for everyone. Each proxy appends the address it received the
request from to ``X-Forwarded-For``; the client may send any ``X-Forwarded-For`` it likes, which the proxies
keep at the left. So the client's address is the Nth entry from the right, never the leftmost. With 0 (the
default, nothing in front of the app) the header is ignored. The app must not be reachable except through
those proxies, or a client could write the header the app trusts."""

import ipaddress

from django.conf import settings


def _address(value):
    """A normalised IP address from a header entry (``1.2.3.4``, ``1.2.3.4:5678``, ``[2001:db8::1]:443``), or
    None."""
    value = value.strip().strip('"')
    candidates = [value]
    if value.startswith("[") and "]" in value:
        candidates.append(value[1 : value.index("]")])
    elif value.count(":") == 1:
        candidates.append(value.split(":", 1)[0])
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def client_ip(request):
    """The address of the client that sent ``request``, as far as the trusted proxies tell it."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    entries = [entry for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
    if len(entries) < count:
        # Fewer hops than proxies: the request did not come the way the settings say. Do not trust the header.
        return remote
    return _address(entries[-count]) or remote
