"""Polite HTTP: the one way the inbox reads a web page.

Every request names the institute in its User-Agent, asks robots.txt first (RFC 9309: a 4xx robots.txt allows
everything, an unreachable one forbids everything until it can be read), waits its turn on the host (one
request at a time per host, across every worker process, with ``SOURCES_HOST_DELAY`` seconds between two),
gives up after the connect and read timeouts, reads at most ``SOURCES_MAX_BYTES``, and follows redirects
itself so that each hop passes the same checks. A host name is resolved once per run and checked
(``checked_address``); every connection to it goes to that address, so a DNS answer that changes between the
check and the connection (DNS rebinding) is never used. A host's turn is a lease on its ``Host`` row: a process that
dies mid-request holds it only for ``SOURCES_HOST_LEASE`` seconds.
"""

import codecs
import contextlib
import datetime
import ipaddress
import re
import socket
import time
import urllib.robotparser
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import charset_normalizer
import requests
import requests.adapters
import urllib3
import urllib3.connection
from django.db import transaction
from django.utils import timezone

from sources import conf
from sources.models import Host

MAX_REDIRECTS = 5


class FetchError(Exception):
    """A page that could not be read; ``reason`` is short and shown as the source's last status."""

    def __init__(self, reason, detail="", *, status=None):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.status = status


@dataclass
class Page:
    url: str  # after redirects
    status: int
    content: bytes = b""
    headers: dict = field(default_factory=dict)

    @property
    def not_modified(self):
        return self.status == 304

    @property
    def text(self):
        return decode_html(self.content, self.headers.get("content-type", ""))


def host_of(url):
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


# --- encodings -------------------------------------------------------------------------------------------

# What Chinese government sites declare, read with the codec that reads them all: GB18030 is a superset of
# GBK, which is a superset of GB2312 (euc-cn, cp936 …), and pages labelled gb2312 often hold GBK characters.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030"}
_ALIASES = {"x-gbk": "gbk", "x-gb2312": "gb2312", "gb_2312": "gb2312", "csgb2312": "gb2312"}
# Labels a misconfigured server sends by default (Apache's ISO-8859-1): a page's own <meta> is trusted over them.
_SERVER_DEFAULTS = {"iso8859-1", "cp1252", "ascii"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_META_WINDOW = 16 * 1024  # long <head>s (scripts, styles) put the <meta> past the first kilobytes


def _codec(name):
    """The Python codec for a charset label (``None`` when unknown), GB2312 and GBK read as GB18030."""
    name = (name or "").strip().strip("\"'").lower()
    try:
        name = codecs.lookup(_ALIASES.get(name, name)).name
    except LookupError:
        return None
    return _SUPERSETS.get(name, name)


def _declared_codecs(content, content_type):
    """The codecs a page declares, strongest first: a byte-order mark, the Content-Type header, its <meta>."""
    if content.startswith(codecs.BOM_UTF8):
        return ["utf-8-sig"]
    header = re.search(r"charset\s*=\s*([^\s;]+)", content_type or "", re.IGNORECASE)
    meta = _META_CHARSET.search(content[:_META_WINDOW])
    found = [_codec(header and header[1]), _codec(meta and meta[1].decode("ascii"))]
    if found[0] in _SERVER_DEFAULTS and found[1]:
        found.reverse()
    return list(dict.fromkeys(codec for codec in found if codec))


def decode_html(content, content_type=""):
    """The page as text: the first declared charset it decodes in (a byte-order mark, the server's header, the
    page's <meta>), else UTF-8 if it decodes, else the declared charset with the odd bad byte replaced; with
    nothing declared, what charset-normalizer detects (GB18030 as a last resort). A server that says UTF-8 for
    a GBK page whose <meta> says GBK is read as GBK."""
    declared = _declared_codecs(content, content_type)
    for codec in [*declared, "utf-8"]:
        try:
            return content.decode(codec)
        except UnicodeDecodeError:
            continue
    if declared:
        return content.decode(declared[0], errors="replace")
    best = charset_normalizer.from_bytes(content).best()
    codec = _codec(best.encoding) if best else None
    return content.decode(codec or "gb18030", errors="replace")


# --- where a request may go ------------------------------------------------------------------------------


def checked_address(hostname, port):
    """The address to connect to for ``hostname``: resolved once, and refused (``FetchError``, ``private
    address``) when any address it resolves to is private, link-local or reserved (unless
    ``SOURCES_ALLOW_PRIVATE_HOSTS``), or loopback (unless ``SOURCES_ALLOW_LOOPBACK``): staff curate sources, and
    a source must not read the institute's own network or a cloud metadata service. The caller connects to the
    address returned, never to the name again, so a DNS answer that changes after the check is not used."""
    try:
        infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchError("network", f"{hostname}: cannot be resolved") from error
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not addresses:
        raise FetchError("network", f"{hostname}: cannot be resolved")
    if not conf.get("SOURCES_ALLOW_PRIVATE_HOSTS"):
        for address in map(_embedded, addresses):
            if address.is_loopback and conf.get("SOURCES_ALLOW_LOOPBACK"):
                continue
            if not address.is_global:
                raise FetchError("private address", f"{hostname} ({address})")
    return str(addresses[0])


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded(address):
    """The IPv4 address inside an IPv4-mapped (::ffff:10.0.0.1) or NAT64 (64:ff9b::a00:1) IPv6 address, which
    reach that IPv4 address: judged as it is."""
    if address.version == 6:
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _pinned_adapter(address_of):
    """A requests adapter whose connections go to ``address_of(host, port)`` instead of resolving the name
    themselves; the request still names the host (the Host header, TLS SNI and the certificate's check)."""

    def pinned(connection_class):
        class Pinned(connection_class):
            def _new_conn(self):
                # urllib3 connects to ``_dns_host``, which is also what its ``host`` reads (the Host header of
                # later requests, TLS SNI and the certificate check): set for the connect only, then restored.
                name = self._dns_host
                self._dns_host = address_of(self.host, self.port)
                try:
                    return super()._new_conn()
                finally:
                    self._dns_host = name

        return Pinned

    class HTTPPool(urllib3.HTTPConnectionPool):
        ConnectionCls = pinned(urllib3.connection.HTTPConnection)

    class HTTPSPool(urllib3.HTTPSConnectionPool):
        ConnectionCls = pinned(urllib3.connection.HTTPSConnection)

    class Adapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": HTTPPool, "https": HTTPSPool}

    return Adapter()


# --- the host's turn -------------------------------------------------------------------------------------


def _host_claim(name, *, lease):
    """Wait until the host is free and its pause is over, then claim it (a lease in its row, which exists:
    ``Fetcher.allowed`` made it when it read the host's robots.txt)."""
    while True:
        with transaction.atomic():
            host = Host.objects.select_for_update().filter(name=name).first()
            if host is None:
                host, _ = Host.objects.get_or_create(name=name)
                continue
            now = timezone.now()
            ready_at = max([t for t in (host.leased_until, host.next_request_at) if t] or [now])
            if ready_at <= now:
                host.leased_until = now + datetime.timedelta(seconds=lease)
                host.requests += 1
                host.save(update_fields=["leased_until", "requests"])
                return
        time.sleep(min(max((ready_at - now).total_seconds(), 0.005), 1.0))


def _host_release(name, *, delay):
    now = timezone.now()
    Host.objects.filter(name=name).update(leased_until=None, next_request_at=now + datetime.timedelta(seconds=delay))


class Fetcher:
    """A polite HTTP client for one poll run: one connection pool, the robots rules it read, requests counted
    per host (the benchmark reports them)."""

    def __init__(self, *, delay=None, connect_timeout=None, read_timeout=None, max_bytes=None):
        self.delay = conf.get("SOURCES_HOST_DELAY") if delay is None else delay
        self.timeout = (
            conf.get("SOURCES_CONNECT_TIMEOUT") if connect_timeout is None else connect_timeout,
            conf.get("SOURCES_READ_TIMEOUT") if read_timeout is None else read_timeout,
        )
        self.max_bytes = max_bytes or conf.get("SOURCES_MAX_BYTES")
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy from the environment: government sites are read directly
        self.session.headers.update({"User-Agent": conf.user_agent(), "Accept-Language": "zh-CN,zh;q=0.9"})
        self.session.mount("http://", _pinned_adapter(self._connect_address))
        self.session.mount("https://", _pinned_adapter(self._connect_address))
        self.addresses = {}  # (host, port) → the checked address every connection of this run goes to
        self.robots = {}
        self.requests_per_host = Counter()

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def address(self, url):
        """The checked address of ``url``'s host (``checked_address``), resolved once per run."""
        parts = urlsplit(url)
        return self._connect_address(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))

    def _connect_address(self, hostname, port):
        key = (hostname, port)
        if key not in self.addresses:
            self.addresses[key] = checked_address(hostname, port)
        return self.addresses[key]

    @contextlib.contextmanager
    def turn(self, host):
        """One request to ``host`` at a time, ``delay`` seconds apart (across processes)."""
        _host_claim(host, lease=conf.get("SOURCES_HOST_LEASE"))
        try:
            yield
        finally:
            _host_release(host, delay=self.delay)

    def get(self, url, *, etag="", last_modified=""):
        """The page at ``url`` (a 304 when the conditional headers match). Raises ``FetchError`` for robots.txt
        refusals, timeouts, network errors, 4xx/5xx answers and pages over the size limit."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        for _hop in range(MAX_REDIRECTS + 1):
            self.address(url)  # refused before robots.txt or the host's turn; connections go to this address
            if not self.allowed(url):
                raise FetchError("robots.txt", url)
            page = self._request(url, headers)
            location = page.headers.get("location")
            if page.status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                if urlsplit(url).scheme not in ("http", "https"):
                    raise FetchError("redirect", url)
                continue
            if page.status >= 400:
                raise FetchError(f"HTTP {page.status}", url, status=page.status)
            return page
        raise FetchError("redirect", "too many redirects")

    def _request(self, url, headers):
        host = host_of(url)
        with self.turn(host):
            self.requests_per_host[host] += 1
            try:
                return self._read(url, headers)
            except requests.Timeout as error:
                raise FetchError("timeout", url) from error
            except requests.RequestException as error:
                raise FetchError("network", f"{url} ({type(error).__name__})") from error

    def _read(self, url, headers):
        started = time.monotonic()
        deadline = started + 3 * self.timeout[1]  # a page trickling in byte by byte is given up too
        with self.session.get(url, headers=headers, timeout=self.timeout, stream=True, allow_redirects=False) as r:
            chunks, size = [], 0
            for chunk in r.iter_content(64 * 1024):
                chunks.append(chunk)
                size += len(chunk)
                if size > self.max_bytes:
                    raise FetchError("too large", url)
                if time.monotonic() > deadline:
                    raise FetchError("timeout", url)
            headers = {key.lower(): value for key, value in r.headers.items()}
            return Page(url=url, status=r.status_code, content=b"".join(chunks), headers=headers)

    # --- robots.txt ---------------------------------------------------------------------------------------

    def allowed(self, url):
        """Whether robots.txt lets our User-Agent read ``url``."""
        host = host_of(url)
        parser = self.robots.get(host)
        if parser is None:
            parser = self.robots[host] = self._robots_for(host)
        return parser.can_fetch(conf.get("SOURCES_ROBOTS_TOKEN"), url)

    def _robots_for(self, host):
        row, _ = Host.objects.get_or_create(name=host)
        max_age = datetime.timedelta(seconds=conf.get("SOURCES_ROBOTS_MAX_AGE"))
        fresh = (
            row.robots_fetched_at and row.robots_status != "error" and timezone.now() - row.robots_fetched_at < max_age
        )
        if not fresh:
            status, text = self._robots_download(host)
            Host.objects.filter(pk=row.pk).update(
                robots_txt=text, robots_status=status, robots_fetched_at=timezone.now()
            )
            row.robots_txt, row.robots_status = text, status
        return robots_parser(row.robots_status, row.robots_txt)

    def _robots_download(self, host):
        try:
            page = self._request(f"{host}/robots.txt", {})
        except FetchError:
            return "error", ""
        if page.status in (301, 302, 303, 307, 308):
            location = urljoin(f"{host}/robots.txt", page.headers.get("location", ""))
            if host_of(location) == host:
                try:
                    page = self._request(location, {})
                except FetchError:
                    return "error", ""
        if 400 <= page.status < 500:
            return "missing", ""
        if page.status >= 500 or page.status >= 300:
            return "error", ""
        return "ok", decode_html(page.content, page.headers.get("content-type", "text/plain; charset=utf-8"))


def robots_parser(status, text):
    parser = urllib.robotparser.RobotFileParser()
    if status == "error":
        parser.disallow_all = True
    elif status == "missing":
        parser.allow_all = True
    else:
        parser.parse(text.splitlines())
    parser.modified()
    return parser
