"""Government-like sites served on 127.0.0.1 by a threaded http.server, and the inbox's test helpers.

Each ``GovSite`` is a server of its own (its own port, so its own host for the politeness rules); the tests
put pages on it (feeds, list pages, detail pages in GBK or UTF-8, robots.txt, a 500, a slow page) and read
back every request it received, with its headers and time. Nothing leaves the loopback interface.
"""

import contextlib
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

import pytest
from django.contrib.auth.models import Permission

from tests.browser.conftest import browser_context_args, browser_type_launch_args, js_errors, page  # noqa: F401
from tests.factories import UserFactory

INBOX_PERMISSIONS = ["view_source", "add_source", "change_source", "view_candidate", "change_candidate"]


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    delay: float = 0.0
    etag: str = ""
    last_modified: str = ""
    headers: dict = field(default_factory=dict)


@dataclass
class Hit:
    path: str
    headers: dict
    at: float
    done: float = 0.0


class GovSite:
    """One web site on loopback (over HTTPS with ``tls``, a server-side ``ssl.SSLContext``)."""

    def __init__(self, *, tls=None):
        self.routes = {}
        self.hits = []
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                hit = Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
                with site.lock:
                    site.hits.append(hit)
                route = site.routes.get(self.path)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._answer(route)
                hit.done = time.monotonic()

            def _answer(self, route):
                if route is None:
                    return self._send(404, b"not found", "text/plain")
                if route.delay:
                    time.sleep(route.delay)
                if (route.etag and self.headers.get("If-None-Match") == route.etag) or (
                    route.last_modified and self.headers.get("If-Modified-Since") == route.last_modified
                ):
                    return self._send(304, b"", None, route)
                return self._send(route.status, route.body, route.content_type, route)

            def _send(self, status, body, content_type, route=None):
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                if route is not None:
                    if route.etag:
                        self.send_header("ETag", route.etag)
                    if route.last_modified:
                        self.send_header("Last-Modified", route.last_modified)
                    for key, value in route.headers.items():
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "https" if tls else "http"
        if tls:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def root(self):
        return f"{self.scheme}://127.0.0.1:{self.server.server_port}"

    def url(self, path):
        return self.root + path

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def hits_for(self, path):
        return [hit for hit in self.hits if hit.path == path]

    # --- content -------------------------------------------------------------------------------------------

    def page(self, path, html, *, encoding="utf-8", declare="header", **route):
        """An HTML page encoded in ``encoding``, declared in the Content-Type header, in a <meta>, or nowhere."""
        if declare == "meta":
            html = html.replace(
                "<head>", f'<head><meta http-equiv="Content-Type" content="text/html; charset={encoding}">'
            )
        content_type = f"text/html; charset={encoding}" if declare == "header" else "text/html"
        self.routes[path] = Route(body=html.encode(encoding), content_type=content_type, **route)

    def robots(self, text):
        self.routes["/robots.txt"] = Route(body=text.encode(), content_type="text/plain")

    def detail(self, path, *, title, paragraphs, doc_number="", issuer="", date="", encoding="utf-8", **kwargs):
        self.page(path, detail_html(title, paragraphs, doc_number, issuer, date), encoding=encoding, **kwargs)

    def rss(self, path, items, **route):
        self.routes[path] = Route(body=rss_xml(items).encode(), content_type="application/rss+xml", **route)

    def atom(self, path, items, **route):
        self.routes[path] = Route(body=atom_xml(items).encode(), content_type="application/atom+xml", **route)

    def listing(self, path, items, *, next_path="", encoding="utf-8", **kwargs):
        self.page(path, list_html(items, next_path), encoding=encoding, **kwargs)


def detail_html(title, paragraphs, doc_number="", issuer="", date=""):
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        "<!DOCTYPE html><html><head><title>" + escape(title) + "_政府门户网站</title></head><body>"
        '<div class="header"><a href="/">首页</a> | <a href="/zwgk/">政务公开</a> | <a href="/zcwj/">政策文件</a></div>'
        '<div class="main"><div class="article">'
        f"<h1>{escape(title)}</h1>"
        f'<div class="info">发布日期：{escape(date)} 来源：{escape(issuer)}</div>'
        + (f'<p class="wh">{escape(doc_number)}</p>' if doc_number else "")
        + body
        + (f"<p>{escape(issuer)}</p><p>{escape(date)}</p>" if issuer and date else "")
        + "</div></div>"
        '<div class="footer">主办单位：人民政府办公厅 网站标识码 0000000001 备案号 京ICP备00000000号</div>'
        "</body></html>"
    )


def list_html(items, next_path=""):
    rows = "".join(
        f'<li><a href="{escape(url)}" title="{escape(title)}">{escape(title)}</a><span class="date">{date}</span></li>'
        for title, url, date in items
    )
    pager = f'<div class="pager"><a class="next" href="{next_path}">下一页</a></div>' if next_path else ""
    return (
        '<!DOCTYPE html><html><head><title>政策文件</title></head><body><div class="nav"><a href="/">首页</a></div>'
        f'<ul class="zcwj-list">{rows}</ul>{pager}</body></html>'
    )


def rss_xml(items):
    entries = "".join(
        f"<item><title>{escape(title)}</title><link>{escape(url)}</link>"
        f"<pubDate>{formatdate(time.mktime(time.strptime(date, '%Y-%m-%d')), usegmt=True)}</pubDate></item>"
        for title, url, date in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>政策文件</title>'
        f"<link>http://127.0.0.1/</link><description>政策</description>{entries}</channel></rss>"
    )


def atom_xml(items):
    entries = "".join(
        f'<entry><title>{escape(title)}</title><link href="{escape(url)}"/><id>{escape(url)}</id>'
        f"<updated>{date}T08:00:00+08:00</updated></entry>"
        for title, url, date in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>政策</title>'
        f"<id>urn:test</id><updated>2022-05-12T00:00:00Z</updated>{entries}</feed>"
    )


@pytest.fixture
def sites():
    """A factory of sites, each closed after the test."""
    made = []

    def make(**kwargs):
        site = GovSite(**kwargs)
        made.append(site)
        return site

    yield make
    for site in made:
        site.close()


@pytest.fixture
def site(sites):
    return sites()


@pytest.fixture(autouse=True)
def _polite_but_quick(settings):
    """The politeness rules as in production, with a short pause and timeouts so the tests stay fast, and
    loopback allowed (off by default), where the tests' sites run."""
    settings.SOURCES_ALLOW_LOOPBACK = True
    settings.SOURCES_HOST_DELAY = 0.05
    settings.SOURCES_READ_TIMEOUT = 2.0
    settings.SOURCES_CONNECT_TIMEOUT = 2.0


def grant_inbox(user):
    """The inbox's permissions (the roles table grants them to researchers and chief editors)."""
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="sources", codename__in=INBOX_PERMISSIONS)
    )
    return type(user).objects.get(pk=user.pk)  # a fresh instance: permissions are cached per instance


@pytest.fixture
def inbox_researcher(db):
    return grant_inbox(UserFactory(role="researcher"))
