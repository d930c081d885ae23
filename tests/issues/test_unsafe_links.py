"""Links: only absolute http(s) URLs with a host are stored, by every write path (the newsletter importer, the
admin, the spreadsheet import), and no renderer (issue page, library, digest, PDF) emits any other as a link,
even for a row stored before the rule."""

import re
import subprocess
from html import unescape

import pytest
import tablib
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from issues.models import Issue
from issues.newsletter.parser import NewsletterError, parse
from issues.renditions import html_to_pdf, render_pdf
from issues.selectors import issue_data, issue_sections
from issues.services import issue_import_newsletter, newsletter_vocabulary
from policies.models import Entry, Policy
from policies.resources import PolicyResource
from policies.safety import is_safe_url, safe_url, validate_http_url
from subscribers.digests import DigestRenderer
from subscribers.models import Scope
from tests.factories import EntryFactory

pytestmark = [pytest.mark.django_db]

UNSAFE = [
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    "javascript:alert(1)//http://example.com/",
    "java\tscript:alert(1)",
    "javascript&#58;alert(1)",
    "&#106;avascript:alert(1)",
    "%6Aavascript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "DATA:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "ftp://example.com/policy.pdf",
    "mailto:someone@example.com",
    "/etc/passwd",
    "../../dgd/settings.py",
    "policies/fixtures/policy.html",
    "//evil.example.com/x",
    "\\\\evil.example.com\\share",
    "http:\\\\evil.example.com",
    "https:evil.example.com",
    "http://",
    "http:///etc/passwd",
    'https://example.com/"onmouseover="alert(1)',
    "https://example.com/'onmouseover='alert(1)",
    "https://example.com/<script>alert(1)</script>",
    "https://exa mple.com/",
    "https://example.com/\u2028x",
    "https://example.com/\x1bx",
    "https://www.gov.cn@evil.example.com/",
]
SAFE = [
    "https://www.gov.cn/zhengce/content/2022-08/01/content_5703768.htm",
    "http://www.beijing.gov.cn/zhengce/?id=1&t=2#top",
    "https://zh.wikipedia.org/wiki/政务服务",
    "https://example.com/a_(b)",
    "HTTPS://WWW.GOV.CN/x",
    "http://127.0.0.1:8000/issues/",
]


# --- the rule ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", UNSAFE)
def test_the_rule_refuses_every_other_link(url):
    assert not is_safe_url(url)
    assert safe_url(url) == ""
    with pytest.raises(ValidationError):
        validate_http_url(url)


@pytest.mark.parametrize("url", SAFE)
def test_the_rule_accepts_absolute_http_links(url):
    assert is_safe_url(url)
    validate_http_url(url)


def test_the_message_speaks_the_interface_language():
    for language, message in (("en", "Enter an absolute http:// or https:// link."), ("zh-hans", "请输入以")):
        with translation.override(language):
            with pytest.raises(ValidationError) as error:
                validate_http_url("javascript:alert(1)")
            assert error.value.messages[0].startswith(message)


@pytest.mark.parametrize("url", UNSAFE)
def test_the_model_field_refuses_an_unsafe_link(url):
    entry = EntryFactory.build(source_url=url)
    with pytest.raises(ValidationError) as error:
        entry.full_clean(exclude=["regions", "themes", "partners"])
    assert "source_url" in error.value.message_dict


# --- the importer --------------------------------------------------------------------------------------


def with_link(sample_text, number, url, *, in_paragraph=False):
    """The sample with entry ``number``'s link (or, with ``in_paragraph``, a link in its first paragraph) set
    to ``url``; and the line that holds it."""
    lines = sample_text.split("\n")
    index = max(i for i, line in enumerate(lines) if line.startswith(f"{number}、"))  # the body's, not the contents'
    if in_paragraph:
        index += next(i for i, line in enumerate(lines[index + 1 :], start=1) if line.strip())
        lines[index] += f"详见[通知全文]({url})。"
    else:
        assert "[政策原文](#)" in lines[index]
        lines[index] = lines[index].replace("[政策原文](#)", f"[政策原文]({url})")
    return "\n".join(lines), index + 1


def database_state():
    return Issue.objects.count(), Entry.objects.count(), Entry.history.count()


@pytest.mark.embedded
@pytest.mark.parametrize("url", UNSAFE)
def test_the_importer_refuses_an_unsafe_link_and_writes_nothing(sample_text, url):
    text, line = with_link(sample_text, "2.3", url)
    before = database_state()
    with pytest.raises(NewsletterError) as error:
        issue_import_newsletter(data=text.encode(), source_name="evil.txt")
    assert error.value.line == line
    assert str(error.value).startswith(f"line {line}: unsafe link")
    assert database_state() == before


@pytest.mark.embedded
@pytest.mark.parametrize("url", UNSAFE[:8])
def test_a_link_anywhere_in_the_text_is_checked(sample_text, url):
    text, line = with_link(sample_text, "3.2", url, in_paragraph=True)
    with pytest.raises(NewsletterError) as error:
        issue_import_newsletter(data=text.encode(), source_name="evil.txt")
    assert str(error.value).startswith(f"line {line}: unsafe link")
    assert Entry.objects.count() == 0


@pytest.mark.embedded
def test_the_command_exits_with_the_line_of_the_link(sample_text, tmp_path):
    text, line = with_link(sample_text, "1.2", "javascript:alert(1)")
    path = tmp_path / "evil.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError, match=f"line {line}: unsafe link"):
        call_command("import_newsletter", str(path))
    assert database_state() == (0, 0, 0)


@pytest.mark.embedded
def test_safe_links_are_read_and_stored(sample_text):
    vocabulary = newsletter_vocabulary()
    for url in SAFE:
        text, _line = with_link(sample_text, "2.3", url)
        assert url in [entry.source_url for entry in parse(text.encode(), vocabulary).entries]
    text, _line = with_link(sample_text, "2.3", SAFE[-3])
    issue = issue_import_newsletter(data=text.encode(), source_name="ok.txt").issue
    assert SAFE[-3] in [e.source_url for e in Entry.objects.filter(issue_items__issue=issue)]


# --- the admin and the spreadsheet import ----------------------------------------------------------------


def add_form(**overrides):
    return {
        "title": "关于推进川渝通办的实施意见",
        "issuer": "四川省人民政府办公厅",
        "action": "印发",
        "level": "provincial",
        "status": "draft",
        "regions": [510000],
        "published_on": "2022-08-05",
        "summary": "推动川渝通办。",
        **overrides,
    }


def test_the_admin_stores_no_unsafe_link(client, researcher):
    client.force_login(researcher)
    for url in UNSAFE:
        response = client.post(reverse("admin:policies_policy_add"), add_form(source_url=url))
        stored = list(Policy.objects.values_list("source_url", flat=True))
        # Django's form completes a scheme-less value to http:// (//evil.example.com/x): then it is a safe link.
        assert all(is_safe_url(value) for value in stored), (url, stored)
        if ":" in url.split("/")[0]:  # a value with a scheme of its own is refused outright
            assert stored == [], url
            assert response.status_code == 200 and response.context["adminform"].form.errors["source_url"]
        Policy.objects.all().delete()


def test_the_admin_stores_a_safe_link(client, researcher):
    client.force_login(researcher)
    client.post(reverse("admin:policies_policy_add"), add_form(source_url=SAFE[0]))
    assert Policy.objects.get().source_url == SAFE[0]


@pytest.mark.parametrize("url", UNSAFE)
def test_the_spreadsheet_import_refuses_an_unsafe_link(url):
    headers = ["编号", "标题", "发文机关", "文号", "级别", "地区", "主题", "日期", "原文链接", "摘要", "状态"]
    good = ["", "一条好的政策", "江苏省人民政府", "", "省级", "江苏", "", "2022-08-01", SAFE[0], "摘要", ""]
    bad = ["", "一条坏的政策", "江苏省人民政府", "", "省级", "江苏", "", "2022-08-01", url, "摘要", ""]
    result = PolicyResource().import_data(tablib.Dataset(good, bad, headers=headers), dry_run=False)
    assert result.has_validation_errors()
    messages = [m for row in result.invalid_rows for ms in row.error_dict.values() for m in ms]
    assert any(m.startswith("原文链接") for m in messages), messages
    assert Entry.objects.count() == 0


# --- the renderers, for a row stored before the rule ---------------------------------------------------


@pytest.fixture
def legacy_issue(imported_sample):
    """The sample with unsafe links stored before the rule, in the entries and in the frozen revision."""
    revision = imported_sample.latest_revision()
    by_number = {n.number: n.entry for section in issue_sections(imported_sample) for n in section.items}
    entries = [e for section in revision.data["sections"] for e in section["entries"]]
    for entry, url in zip(entries, UNSAFE, strict=False):
        entry["source_url"] = url
        Entry.objects.filter(pk=by_number[entry["number"]].pk).update(source_url=url)  # bypasses the validator
    revision.save()
    return imported_sample


def hrefs(html):
    return [unescape(value) for value in re.findall(r'\bhref="([^"]*)"', html)]


def assert_only_safe_links(html):
    links = hrefs(html)
    assert links
    placeholders = ("DGDxPERSONALx",)  # a digest's personal links, filled in per recipient
    bad = [link for link in links if not (link.startswith(("#", "/", *placeholders)) or is_safe_url(link))]
    assert bad == []
    lowered = html.lower()
    assert "javascript:" not in lowered and "data:text" not in lowered and "file:" not in lowered


def test_the_issue_page_emits_no_unsafe_link(client, legacy_issue):
    response = client.get("/issues/2022-08/")
    assert response.status_code == 200
    assert_only_safe_links(response.content.decode())


def test_the_library_entry_page_emits_no_unsafe_link(client, sales, legacy_issue):
    client.force_login(sales)
    for entry in Entry.objects.exclude(source_url="")[:8]:
        page = client.get(reverse("library:entry", args=[entry.pk])).content.decode()
        assert_only_safe_links(page)


def test_the_digest_emits_no_unsafe_link(legacy_issue):
    revision = legacy_issue.latest_revision()
    DigestRenderer._cache.clear()
    renderer = DigestRenderer(issue=legacy_issue, data=issue_data(legacy_issue), revision_number=revision.number)
    rendered = renderer.group((Scope.WHOLE, (), ()))
    DigestRenderer._cache.clear()
    assert_only_safe_links(rendered.html)
    for url in UNSAFE[:8]:
        assert url not in rendered.text


def pdf_urls(content, tmp_path):
    path = tmp_path / "out.pdf"
    path.write_bytes(content)
    output = subprocess.run(["pdfinfo", "-url", str(path)], capture_output=True, check=True, text=True).stdout
    return [line.split()[-1] for line in output.splitlines()[1:] if line.strip()]


def test_the_pdf_links_nothing_unsafe(legacy_issue, tmp_path):
    content = render_pdf(issue_data(legacy_issue))
    urls = pdf_urls(content, tmp_path)
    assert all(is_safe_url(url) for url in urls), urls
    assert str(settings.BASE_DIR).encode() not in content and b"file:" not in content


def test_the_pdf_renderer_resolves_and_fetches_nothing_on_disk(tmp_path):
    html = (
        '<p><a href="relative/page.html">相对</a> <a href="javascript:alert(1)">脚本</a>'
        ' <a href="#top" id="top">顶部</a> <a href="https://www.gov.cn/">政府网</a>'
        ' <img src="file:///etc/passwd"> <img src="static/logo.png"></p>'
        '<div style="background: url(file:///etc/hosts)">x</div>'
    )
    content = html_to_pdf(html)
    assert pdf_urls(content, tmp_path) == ["https://www.gov.cn/"]
    assert str(settings.BASE_DIR).encode() not in content and b"file:" not in content
