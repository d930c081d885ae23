"""The inbox's settings, each with a default: ``settings.SOURCES_*`` overrides it (docs/sources.md)."""

from django.conf import settings

DEFAULTS = {
    # Named in every request, so a site's webmaster knows who polls and where to ask (ASCII: an HTTP header).
    "SOURCES_USER_AGENT": "DGD-PolicyMonitor/1.0 (policy monitor of the Epoint Digital Government Research Institute)",
    "SOURCES_ROBOTS_TOKEN": "DGD-PolicyMonitor",  # the name robots.txt rules are matched against
    "SOURCES_HOST_DELAY": 2.0,  # seconds between two requests to one host
    "SOURCES_CONNECT_TIMEOUT": 5.0,
    "SOURCES_READ_TIMEOUT": 20.0,  # seconds without a byte before a request is given up
    "SOURCES_MAX_BYTES": 5 * 1024 * 1024,  # a page larger than this is cut off (and a feed refused)
    "SOURCES_HOST_LEASE": 120,  # seconds a host stays claimed by a request whose process died
    "SOURCES_ROBOTS_MAX_AGE": 24 * 3600,  # robots.txt is fetched again after a day
    "SOURCES_MAX_BACKOFF": 24 * 3600,  # the longest wait after repeated errors
    # Private, link-local (cloud metadata) and reserved addresses are refused: a source's URL must not reach into
    # the institute's own network. Loopback is allowed unless turned off, so that a mirror or a test site on the
    # machine itself can be watched (the requests are plain GETs without credentials); production may refuse it.
    "SOURCES_ALLOW_PRIVATE_HOSTS": False,
    "SOURCES_ALLOW_LOOPBACK": True,
    "SOURCES_MAX_ITEMS": 100,  # new items taken from one source in one poll
    # How far back catalogue policies (by date) and candidates (by when found) are compared with new items.
    "SOURCES_DEDUP_DAYS": 3650,
}


def get(name):
    return getattr(settings, name, DEFAULTS[name])


def user_agent():
    site = getattr(settings, "SITE_URL", "")
    agent = get("SOURCES_USER_AGENT")
    return f"{agent[:-1]}; +{site})" if site and agent.endswith(")") else agent
