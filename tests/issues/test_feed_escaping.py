"""The Atom feed (/issues/feed/) escapes every field for its type: a feed reader that renders the summary as
HTML meets no element or attribute the introduction brought, and no character makes the XML invalid."""

import datetime
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from django.utils import timezone

from issues.models import IssueStatus, Series
from issues.views import SafeAtom1Feed
from issues.workflow import revision_create
from tests.factories import IssueEntryFactory, IssueFactory

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"

XSS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(document.cookie)">',
    "<svg/onload=alert(1)>",
    '"><iframe src="javascript:alert(1)"></iframe>',
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;img src=x onerror=alert(1)&#62;",
    "**<b onmouseover=alert(1)>粗体</b>**",
    "<![CDATA[<script>alert(1)</script>]]>",
    "]]><script>alert(1)</script>",
    '<a href="javascript:alert(1)">政策原文</a>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<scr<script>ipt>alert(1)</script>",
    "<body onload=alert(1)>\n\n<details open ontoggle=alert(1)>",
]


class Markup(HTMLParser):
    """What an HTML renderer would build from a string: its elements, their attributes and the text."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.tags, self.attributes, self.text = [], [], []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        self.text.append(data)


def published_issue(*, intro, series=None):
    issue = IssueFactory(
        year=2022,
        month=9,
        number=5,
        intro=intro,
        status=IssueStatus.PUBLISHED,
        published_at=timezone.make_aware(datetime.datetime(2022, 9, 1, 9)),
        **({"series": series} if series else {}),
    )
    IssueEntryFactory(issue=issue, entry__title="关于推进政务服务跨省通办的通知")
    revision_create(issue=issue, by=None, reason="test")
    return issue


def feed_entries(client):
    response = client.get("/issues/feed/")
    assert response.status_code == 200
    root = ET.fromstring(response.content)  # the whole feed is well-formed XML
    assert root.tag == f"{ATOM}feed"
    return root.findall(f"{ATOM}entry")


@pytest.mark.parametrize("payload", XSS)
def test_the_summary_renders_the_introduction_as_text(client, payload):
    published_issue(intro=f"本期导读。{payload}")
    (entry,) = feed_entries(client)
    summary = entry.find(f"{ATOM}summary")
    assert summary.get("type") == "html"
    rendered = Markup(summary.text)  # what a reader does with type="html"
    assert set(rendered.tags) <= {"p", "strong"}, rendered.tags
    assert rendered.attributes == []
    assert "".join(rendered.text) == f"本期导读。{payload}".replace("**", "").replace("\n\n", "")


@pytest.mark.parametrize("payload", XSS[:5])
def test_titles_are_plain_text(client, payload):
    series = Series.objects.create(name=f"{payload}分册"[:50], slug="evil")
    published_issue(intro="导读", series=series)
    (entry,) = feed_entries(client)
    title = entry.find(f"{ATOM}title")
    assert title.get("type") in (None, "text")
    assert title.text == f"{series.name} 2022年09月 第05期"


@pytest.mark.parametrize("control", ["\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\ufffe", "\uffff"])
def test_control_characters_do_not_break_the_feed(client, control):
    series = Series.objects.create(name=f"政务{control}服务分册", slug="controls")
    published_issue(intro=f"第一段{control}导读\n\n第二段{control}", series=series)
    (entry,) = feed_entries(client)
    assert "".join(Markup(entry.find(f"{ATOM}summary").text).text) == "第一段导读第二段"
    assert entry.find(f"{ATOM}title").text.startswith("政务服务分册")


def test_a_nul_does_not_break_the_feed():
    """PostgreSQL holds no NUL, but SQLite (the embedded mode) does: the feed writer drops it wherever it is."""
    feed = SafeAtom1Feed(title="数字政府\x00动态", link="/issues/", description="d\x00")
    feed.add_item(
        title="政务\x00服务分册", link="/issues/2022-08/", description="<p>导\x00读</p>", categories=["a\x00"]
    )
    root = ET.fromstring(feed.writeString("utf-8"))
    assert root.find(f"{ATOM}title").text == "数字政府动态"
    entry = root.find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text == "政务服务分册"
    assert entry.find(f"{ATOM}summary").text == "<p>导读</p>"
