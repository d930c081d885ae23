"""No English in front of a reader or an editor: every page each role can reach, crawled with sample data loaded.

The public site and its links (anonymous), a subscriber's signed links, the library (a sales user), and for a
researcher, a chief editor and a superuser every admin changelist, add, change and history page (and one old
version of each model with history) generated from ``admin.site._registry``. The text a person reads — the
page's text outside scripts, styles and code examples, and the attributes a person reads or hears (title,
placeholder, aria-label, alt, the value of a button) — may hold no English word outside the allow-list below:
brand and format names, URLs, e-mail addresses, numbers and ISO dates, and the data's own identifiers
(usernames, slugs, file names).
"""

import contextlib
import re
from collections import defaultdict
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from tests.factories import EntryFactory, IssueEntryFactory, IssueFactory, UserFactory

pytestmark = [pytest.mark.django_db]

# Names a Chinese page writes in Latin letters.
ALLOWED_WORDS = {
    "DGD",
    "PDF",
    "JSON",
    "CSV",
    "XLSX",
    "xlsx",
    "csv",
    "pdf",
    "json",
    "Excel",
    "RSS",
    "Atom",
    "XML",
    "ICP",
    "ID",
    "URL",
    "GB",
    "GB/T",
    "T",
    "SMTP",
    "IP",
    "HTTP",
    "HTTPS",
    "UTF",
    "Asia/Shanghai",
    "Asia",
    "Shanghai",
    "Email",
    "E-mail",
    "email",
    "Chromium",
    "Django",
    "Celery",
    "Redis",
    "PostgreSQL",
    "App",
    "APP",
    "AI",
    "OA",
    "PC",
    # keys named in Django's own help text (按住 Control 键或 Mac 上的 Command 键来选择多项)
    "Control",
    "Command",
    "Mac",
    "Shift",
    "LDAP",  # named in Django's help text on the user form
    # a typed example in a help text: pinyin initials (输入 zz 查找郑州)
    "zz",
    "API",
    "UTC",
    "CST",
    "AM",
    "PM",
    "N/A",
    "OK",
    "QQ",
    "WPS",
    "Word",
    "Office",
    "WeChat",
    "Ctrl",
}
# The publication's own English name, shown as a brand beside 数字政府动态.
BRAND_PHRASES = re.compile(r"digital\s+government\s+dynamics", re.IGNORECASE)
# Code a page may quote: setting names (PRIVACY_NOTICE_VERSION), a password hash's algorithm and masked digest
# (pbkdf2_sha256 raV1iw****), axes' placeholder for a missing value (<unknown>).
CODE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\b\w+_sha\d+\b|\S*\*{4,}\S*|<unknown>")
SKIPPED_ELEMENTS = {"script", "style", "code", "pre", "kbd", "samp", "template", "svg", "noscript"}
# A placeholder that is wholly a CSS selector (ul.list li, span.date) is a code example of what to type.
CSS_SELECTOR = re.compile(r"^\s*[a-z][a-z0-9]*(?:[.#][\w-]+)*(?:\s*[>+~]?\s*[a-z][a-z0-9]*(?:[.#][\w-]+)*)*\s*$")
BOOLEAN_ICON = re.compile(r"admin/img/icon-(?:yes|no|unknown)\.svg")
READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

URL = re.compile(r"(?:https?|mailto|ftp)://\S+|www\.\S+|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b|/[\w./?=&%#-]+")
ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?")
FILE = re.compile(r"\b[\w-]+\.(?:txt|pdf|xlsx|csv|json|svg|png|html)\b")
WORD = re.compile(r"[A-Za-z][A-Za-z'’]*(?:[-/][A-Za-z]+)*")


class ReadableText(HTMLParser):
    """The text and attributes a person reads on a page, and the links to follow."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skipping = 0
        self.stack = []
        self.chunks = []
        self.links = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag not in VOID:
            self.stack.append(tag)
            if tag in SKIPPED_ELEMENTS:
                self.skipping += 1
        if self.skipping:
            return
        if tag == "img" and BOOLEAN_ICON.search(attrs.get("src", "")):
            return  # Django's yes/no icon: its alt is the Python value (True/False), Django's own, not ours
        self.chunks.extend(attrs[name] for name in READ_ATTRIBUTES if attrs.get(name))
        if tag == "input" and attrs.get("type") in ("submit", "button", "reset") and attrs.get("value"):
            self.chunks.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in VOID or tag not in self.stack:
            return
        while self.stack:
            closed = self.stack.pop()
            if closed in SKIPPED_ELEMENTS:
                self.skipping -= 1
            if closed == tag:
                break

    def handle_data(self, data):
        if not self.skipping and data.strip():
            self.chunks.append(data)


def english_words(html, allowed):
    reader = ReadableText()
    reader.feed(html)
    found = []
    for chunk in reader.chunks:
        if CSS_SELECTOR.match(chunk) and any(mark in chunk for mark in ".#"):
            continue
        text = FILE.sub(" ", ISO.sub(" ", URL.sub(" ", CODE.sub(" ", BRAND_PHRASES.sub(" ", chunk)))))
        for word in WORD.findall(text):
            if len(word) < 2 or word in allowed or word.upper() in allowed or word.lower() in allowed:
                continue
            found.append((word, " ".join(chunk.split())[:120]))
    return found, reader.links


def data_identifiers():
    """Identifiers the data itself holds in Latin letters (usernames, slugs, nonces, file names)."""
    from django.apps import apps
    from django.contrib.auth import get_user_model

    words = set()
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if getattr(field, "get_internal_type", lambda: "")() == "SlugField":
                for value in model._base_manager.values_list(field.name, flat=True):
                    words.update(WORD.findall(value or ""))
    for username in get_user_model().objects.values_list("username", flat=True):
        words.update(WORD.findall(username))
    return words


class Crawl:
    """Fetch pages as one client, follow same-site links under the given prefixes, record English found."""

    def __init__(self, client, allowed, *, prefixes, skip=(), limit=150, follow_links=True):
        self.client, self.allowed, self.prefixes, self.skip, self.limit = client, allowed, prefixes, skip, limit
        self.follow_links = follow_links
        self.seen = set()
        self.english = defaultdict(set)
        self.fetched = 0

    def visit(self, *urls):
        queue = list(urls)
        while queue and self.fetched < self.limit:
            url = queue.pop(0)
            if url in self.seen:
                continue
            self.seen.add(url)
            self.fetched += 1
            try:
                response = self.client.get(url, follow=True)
            except Exception as error:  # a page that fails is reported with the rest, not hidden behind it
                self.english[url].add(f"the page failed: {type(error).__name__}: {error}"[:300])
                continue
            if response.status_code in (403, 405) or "text/html" not in response.get("Content-Type", ""):
                continue
            found, links = english_words(response.content.decode(), self.allowed)
            for word, context in found:
                self.english[url].add(f"{word!r} in “{context}”")
            if self.follow_links:
                queue.extend(
                    link for link in (self._local(url, href) for href in links) if link not in (None, *self.seen)
                )
        return self

    def _local(self, base, href):
        parts = urlsplit(urljoin(base, href))
        if parts.scheme not in ("", "http") or parts.netloc not in ("", "testserver"):
            return None
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not any(path.startswith(prefix) for prefix in self.prefixes) or any(s in path for s in self.skip):
            return None
        return path


def report(crawl):
    return "\n".join(f"{url}:\n    " + "\n    ".join(sorted(words)) for url, words in sorted(crawl.english.items()))


@pytest.fixture
def sample_world(imported_sample):
    """The sample issue (published), a draft and an issue in review, a subscriber, history, sign-in records."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    from issues.workflow import issue_submit
    from subscribers.models import Delivery, Subscriber

    researcher = UserFactory(role="researcher", username="研究员小王")
    chief = UserFactory(role="chief_editor", username="主编老李")
    sales = UserFactory(role="sales", username="销售小张")
    superuser = UserFactory(username="管理员", is_staff=True, is_superuser=True)
    draft = IssueFactory(year=2023, month=1, number=200, intro="草稿导读")
    IssueEntryFactory(issue=draft, entry=EntryFactory(title="草稿期的一条政策"))
    review = IssueFactory(year=2023, month=2, number=201, intro="审核中的导读")
    IssueEntryFactory(issue=review, entry=EntryFactory(title="审核中的一条政策"))
    issue_submit(issue=review, by=researcher)
    subscriber = Subscriber.objects.create(email="reader@example.org", name="读者", status="confirmed")
    Delivery.objects.create(issue=imported_sample, subscriber=subscriber)
    now = timezone.now()
    common = {"user_agent": "Chromium", "ip_address": "10.0.0.1", "username": "销售小张", "http_accept": "*/*"}
    AccessAttempt.objects.create(
        **common, path_info="/accounts/login/", get_data="", post_data="", failures_since_start=3
    )
    AccessFailureLog.objects.create(**common, path_info="/accounts/login/", locked_out=False)
    AccessLog.objects.create(**common, path_info="/admin/login/", attempt_time=now)
    return {
        "researcher": researcher,
        "chief_editor": chief,
        "sales": sales,
        "superuser": superuser,
        "subscriber": subscriber,
        "issue": imported_sample,
        "draft": draft,
    }


def admin_pages():
    """Every changelist, add, change and history page the admin registers, and one old version of each."""
    urls = ["/admin/"]
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.append(reverse(f"{prefix}_changelist"))
        urls.append(reverse(f"{prefix}_add"))
        obj = model._default_manager.order_by("-pk").first()
        if obj is None:
            continue
        urls.append(reverse(f"{prefix}_change", args=[obj.pk]))
        urls.append(reverse(f"{prefix}_history", args=[obj.pk]))
        history = getattr(obj, "history", None)
        if history is not None:
            version = history.order_by("history_id").first()
            if version is not None:
                with contextlib.suppress(NoReverseMatch):  # a model with history but no history admin
                    urls.append(reverse(f"{prefix}_simple_history", args=[obj.pk, version.history_id]))
    return urls


@pytest.fixture
def allowed(sample_world):
    return ALLOWED_WORDS | data_identifiers()


def test_the_detector_finds_english_and_spares_what_is_allowed():
    html = (
        '<p title="Open">本期导读 Latest issue</p><script>var English = 1;</script><code>manage.py run</code>'
        '<a href="https://example.org/x">https://example.org/x</a> dgd@example.org 2022-08-01T09:00 PDF 第04期'
        '<input type="submit" value="Save"><input type="text" value="typed by someone">'
        '<img alt="map of China"><span aria-label="地图">地图</span><input placeholder="ul.list li">'
        '<img src="/static/admin/img/icon-no.svg" alt="False">'
    )
    found, links = english_words(html, ALLOWED_WORDS)
    assert sorted({word for word, _ in found}) == ["China", "Latest", "Open", "Save", "issue", "map", "of"]
    assert links == ["https://example.org/x"]


def test_no_english_on_public_pages(client, sample_world, allowed, settings):
    settings.DEBUG = False
    crawl = Crawl(client, allowed, prefixes=("/", "/issues/"), skip=("/admin/", "/library/", "/accounts/logout"))
    crawl.visit("/", "/issues/", "/subscribe/", "/accounts/login/", "/issues/2099-01/", "/no-such-page/")
    assert crawl.fetched > 5
    assert not crawl.english, report(crawl)


def test_no_english_on_a_subscribers_links(client, sample_world, allowed):
    from subscribers.models import ConfirmationRequest
    from subscribers.tokens import confirm_token, manage_token, new_nonce

    subscriber = sample_world["subscriber"]
    token = manage_token(subscriber.pk)
    request = ConfirmationRequest.objects.create(
        subscriber=subscriber, nonce=new_nonce(), preferences={}, created_at=timezone.now()
    )
    urls = [
        reverse("subscribers:subscribe"),
        reverse("subscribers:subscribe_done"),
        reverse("subscribers:confirm", args=[confirm_token(request.nonce)]),
        reverse("subscribers:confirm", args=["forged"]),
        reverse("subscribers:manage", args=[token]),
        reverse("subscribers:unsubscribe", args=[token]),
        reverse("subscribers:fewer", args=[token]),
        reverse("subscribers:erase", args=[token]),
    ]
    crawl = Crawl(client, allowed, prefixes=("/subscribe/",), limit=40).visit(*urls)
    assert crawl.fetched >= len(urls)
    assert not crawl.english, report(crawl)


def test_no_english_in_the_library(client, sample_world, allowed):
    client.force_login(sample_world["sales"])
    crawl = Crawl(client, allowed, prefixes=("/library/",), skip=("export", "/delete/"), limit=60)
    crawl.visit("/library/", "/library/?region=330000", "/library/saved/")
    assert crawl.fetched > 3
    assert not crawl.english, report(crawl)


@pytest.mark.parametrize("role", ["researcher", "chief_editor", "superuser"])
def test_no_english_in_the_admin(client, sample_world, allowed, role):
    client.force_login(sample_world[role])
    pages = admin_pages()
    crawl = Crawl(client, allowed, prefixes=("/admin/",), limit=len(pages), follow_links=False).visit(*pages)
    assert crawl.fetched > 40
    assert not crawl.english, report(crawl)
