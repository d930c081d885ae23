"""The digest's lines stay under SMTP's limit without changing what a reader sees: the HTML part folds inside
tags (a line break in running Chinese text would show as a space), the plain-text part never breaks a URL; the
digest carries 本期导读 and never repeats an entry chosen for the reader; the links-only choice gets a short mail."""

import re
from html.parser import HTMLParser

import pytest

from issues.selectors import issue_data
from subscribers.digests import LINE_BYTES, DigestRenderer, fold_html, fold_text
from subscribers.models import Scope

pytestmark = pytest.mark.django_db

LONG_TEXT = "为进一步提升政务服务效能，" * 60  # 780 characters, 2,340 bytes, no tag
URL = "https://www.gov.cn/zhengce/content/2022-08/" + "a" * 180 + ".htm"


class Shape(HTMLParser):
    """What a browser builds from HTML, as a list: tags with their attributes, and the text between them with
    runs of whitespace as one space (comments dropped)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.items, self.text = [], ""

    def _flush(self):
        if self.text:
            self.items.append(("text", re.sub(r"\s+", " ", self.text)))
            self.text = ""

    def handle_starttag(self, tag, attrs):
        self._flush()
        self.items.append(("start", tag, attrs))

    def handle_endtag(self, tag):
        self._flush()
        self.items.append(("end", tag))

    def handle_data(self, data):
        self.text += data


def shape(html):
    parser = Shape()
    parser.feed(html)
    parser.close()
    parser._flush()
    return parser.items


def byte_lengths(text):
    return [len(line.encode()) for line in text.split("\n")]


@pytest.mark.parametrize(
    "html",
    [
        f'<p style="font-size: 14px;">{LONG_TEXT}</p>',
        "<p>" + "".join(f"政务服务<strong>第{n}项改革举措</strong>，" for n in range(80)) + "</p>",
        f'<p>{LONG_TEXT}<a href="{URL}">政策原文</a>{LONG_TEXT}</p>',
        "<div>" + "数据共享&amp;开放，" * 120 + "</div>",
    ],
)
def test_html_folding_keeps_every_line_short_and_the_page_the_same(html):
    folded = fold_html(html)
    assert max(byte_lengths(folded)) <= LINE_BYTES
    assert "\n" in folded
    assert shape(folded) == shape(html)


def test_html_folding_never_puts_a_line_break_into_running_chinese_text():
    folded = fold_html(f"<p>{LONG_TEXT}</p>")
    for line in folded.split("\n")[1:]:
        assert not re.match(r"[\u4e00-\u9fff，。]", line), line[:20]  # every line starts inside a tag or comment


def test_text_folding_breaks_after_chinese_punctuation_and_never_inside_a_url():
    text = "原文：" + "为进一步提升政务服务效能" * 20 + URL + "。" + "加快推进电子证照应用，" * 40
    folded = fold_text(text)
    assert max(byte_lengths(folded)) <= LINE_BYTES
    assert any(URL in line for line in folded.split("\n"))  # whole, on one line
    assert folded.replace("\n", "") == text


def test_a_url_longer_than_the_limit_is_sent_whole():
    url = "https://example.cn/" + "x" * 900
    assert url in fold_text(f"见 {url}").split("\n")


@pytest.fixture
def renderer(imported_sample):
    return DigestRenderer(issue=imported_sample, data=issue_data(imported_sample), revision_number=1)


def test_the_digest_has_the_introduction_and_repeats_no_entry(renderer):
    rendered = renderer.group((Scope.WHOLE, (320000,), ("cross-province",)))
    numbers = re.findall(r"(?m)^(\d+\.\d+)、", rendered.text)
    assert len(numbers) == len(set(numbers)) == 31
    assert "== 本期导读 ==" in rendered.text and "<h2" in rendered.html and "本期导读" in rendered.html
    html_numbers = re.findall(r"<h3[^>]*>(\d+\.\d+)、", rendered.html)
    assert sorted(html_numbers) == sorted(numbers)
    assert max(byte_lengths(rendered.text) + byte_lengths(rendered.html)) <= LINE_BYTES


def test_links_only_is_a_short_mail_with_the_introduction_and_both_links(renderer):
    rendered = renderer.group((Scope.LINKS, (320000,), ()))
    assert not rendered.empty
    assert "/issues/2022-08/" in rendered.text and "/issues/2022-08/pdf/" in rendered.text
    assert "本期导读" in rendered.text and not re.search(r"(?m)^\d+\.\d+、", rendered.text)
    assert len(rendered.text) < 1500
