"""Items out of a feed (feedparser) or an HTML list page (BeautifulSoup with lxml and CSS selectors), and the
main text out of a detail page (trafilatura, with the page's own text as a fallback)."""

import datetime
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin

import feedparser
import trafilatura
from bs4 import BeautifulSoup
from django.utils import timezone
from soupsieve import SelectorSyntaxError

from policies.safety import is_safe_url
from sources.text import clean_space, parse_date


class SelectorError(ValueError):
    """A CSS selector of a source that cannot be parsed."""


@dataclass
class Item:
    title: str
    url: str
    date: datetime.date | None = None
    summary: str = ""


def _html_to_text(html):
    return clean_space(BeautifulSoup(html or "", "lxml").get_text(" ")) if html else ""


def _entry_date(entry):
    """The item's date where the policy was published (feedparser gives UTC): 00:30 in Beijing is that day."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            moment = datetime.datetime(*value[:6], tzinfo=datetime.UTC)
            return timezone.localtime(moment).date()
    for key in ("published", "updated"):
        found = parse_date(entry.get(key, ""))
        if found:
            return found
    return None


def parse_feed(content, base_url):
    """The items of an RSS or Atom feed (feedparser reads its encoding from the XML declaration)."""
    feed = feedparser.parse(content)
    if feed.bozo and not feed.entries:
        raise ValueError(f"not a feed: {feed.get('bozo_exception')}")
    items = []
    for entry in feed.entries:
        link = urljoin(base_url, entry.get("link", "").strip())
        if not is_safe_url(link):
            continue
        title = clean_space(_html_to_text(entry.get("title", "")))
        summary = _html_to_text(entry.get("summary", ""))
        items.append(Item(title=title, url=link, date=_entry_date(entry), summary=summary))
    return items


def _select(node, selector, *, many=False):
    try:
        return node.select(selector) if many else node.select_one(selector)
    except (SelectorSyntaxError, ValueError) as error:
        raise SelectorError(f"{selector}: {error}") from error


def parse_list(html, base_url, *, item, title="", link="", date="", next_page=""):
    """The items of an HTML list page and the link to its next page (``None`` without one).

    ``item`` selects each item; inside it, ``link`` its link (the item itself or its first link when empty),
    ``title`` its title (the link's ``title`` attribute or text when empty), ``date`` its date."""
    soup = BeautifulSoup(html, "lxml")
    items = []
    for node in _select(soup, item or "li", many=True):
        anchor = _select(node, link) if link else (node if node.name == "a" else node.find("a", href=True))
        if anchor is None or not anchor.get("href"):
            continue
        url = urljoin(base_url, anchor["href"].strip())
        if not is_safe_url(url) or urldefrag(url)[0] == urldefrag(base_url)[0]:
            continue  # javascript:, or a link to the list itself (href="#", an onclick handler's anchor)
        title_node = _select(node, title) if title else None
        text = (
            title_node.get("title") or title_node.get_text(" ")
            if title_node is not None
            else anchor.get("title") or anchor.get_text(" ")
        )
        date_node = _select(node, date) if date else None
        found = parse_date(date_node.get_text(" ")) if date_node is not None else parse_date(node.get_text(" "))
        items.append(Item(title=clean_space(text), url=url, date=found))
    next_url = None
    if next_page:
        anchor = _select(soup, next_page)
        if anchor is not None and anchor.get("href"):
            candidate = urljoin(base_url, anchor["href"].strip())
            next_url = candidate if is_safe_url(candidate) and candidate != base_url else None
    return items, next_url


@dataclass
class Detail:
    title: str
    text: str
    date: datetime.date | None


def parse_detail(html, url):
    """A detail page's title, main text (trafilatura; the body's text when it finds none) and date."""
    soup = BeautifulSoup(html, "lxml")
    heading = soup.find("h1") or soup.find("title")
    title = clean_space(heading.get_text(" ")) if heading else ""
    # ``fast``: trafilatura's own extraction without its fallbacks (justext, readability), which cost more than
    # the rest of the item's work together and add nothing on a government notice page.
    text = trafilatura.extract(html, url=url, fast=True, favor_recall=True, include_comments=False) or ""
    if not text.strip():
        body = soup.body or soup
        for node in body(["script", "style", "nav", "header", "footer"]):
            node.decompose()
        text = "\n".join(clean_space(line) for line in body.get_text("\n").splitlines() if line.strip())
    meta = soup.find("meta", attrs={"name": ["PubDate", "pubdate", "publishdate", "firstpublishedtime"]})
    date = parse_date(meta.get("content", "")) if meta else None
    return Detail(title=title, text=text.strip(), date=date)
