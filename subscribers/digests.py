"""Rendering digests. What subscribers with equal preferences share is rendered once per group (and kept in
a small per-process cache across chunks); only the personal parts — the name and the two signed links — are
substituted per recipient."""

import re
import uuid
from collections import OrderedDict
from email.header import Header
from email.utils import formatdate
from urllib.parse import quote, urlsplit

import css_inline
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import sanitize_address
from django.template.loader import get_template
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext as _

from issues.selectors import issue_for_display
from subscribers.models import Scope
from subscribers.selectors import digest_content, entry_matches
from subscribers.tokens import manage_token

# Placeholders: plain ASCII words that survive HTML escaping and CSS inlining unchanged.
NAME = "DGDxPERSONALxNAME"
NAME_HTML = "DGDxPERSONALxHTMLxNAME"
TOKEN = "DGDxPERSONALxTOKEN"
MESSAGE_ID = "<DGDxPERSONALxMESSAGExID@placeholder.invalid>"
DATE = "DGDxPERSONALxDATE"
TO = "dgdxpersonalxto@placeholder.invalid"
MANAGE_URL = "DGDxPERSONALxMANAGE"
UNSUBSCRIBE_URL = "DGDxPERSONALxUNSUBSCRIBE"

# The placeholders as bytes, longest first, for splitting a group's message at them once.
_PLACEHOLDERS = re.compile(
    b"("
    + b"|".join(
        re.escape(p.encode())
        for p in sorted((NAME, NAME_HTML, TOKEN, MESSAGE_ID, DATE, TO, MANAGE_URL, UNSUBSCRIBE_URL), key=len)[::-1]
    )
    + b")"
)
# SMTP's transparency rule (RFC 5321 4.5.2, what smtplib.data does to every message): a line that starts with a
# period gets another.
_LEADING_PERIOD = re.compile(rb"(?m)^\.")

TEMPLATES = ("email/subscribers/digest/subject.txt", "email/subscribers/digest/body.txt")
HTML_TEMPLATE = "email/subscribers/digest/body.html"


def absolute(path):
    return settings.SITE_URL.rstrip("/") + path


# SMTP allows 998 bytes a line. Folded lines stay under LINE_BYTES, leaving room for the personal values that
# replace the placeholders afterwards (two signed links can share a line).
LINE_BYTES = 700
BREAKS = "。；，！？"
_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+")  # ASCII: a URL ends where Chinese text starts
_WORD_TAIL = re.compile(r"[A-Za-z0-9&#;._%~/:?=+-]+$")  # an ASCII run (a URL, a placeholder, an entity) to keep whole
_TAG_NAME = re.compile(r"</?[A-Za-z][A-Za-z0-9]*")


def _fits(line, limit):
    """How many leading characters of ``line`` fit in ``limit`` bytes of UTF-8."""
    size = 0
    for index, char in enumerate(line):
        size += len(char.encode())
        if size > limit:
            return index
    return len(line)


def _outside_ascii_run(line, cut):
    """Move a cut back to the start of the ASCII word it would split (a URL, a placeholder, an entity)."""
    tail = _WORD_TAIL.search(line[:cut])
    if tail and cut < len(line) and _WORD_TAIL.match(line[cut]):
        return tail.start()
    return cut


def fold_text(text, limit=LINE_BYTES):
    """The plain-text part under SMTP's line limit: Django then sends it as 8bit instead of quoted-printable,
    which would triple its size and cost more CPU than everything else per message. A long line breaks after
    Chinese punctuation, never inside a URL (a broken link cannot be clicked)."""
    lines = []
    for line in text.split("\n"):
        while len(line.encode()) > limit:
            width = _fits(line, limit)
            cut = max(line.rfind(mark, 0, width) for mark in BREAKS) + 1
            if cut <= 0:
                cut = _outside_ascii_run(line, width)
            for url in _URL.finditer(line):
                if url.start() < cut < url.end():
                    cut = url.start() if url.start() > 0 else url.end()
            if cut <= 0 or cut >= len(line):
                break  # one URL longer than the limit: sent whole rather than broken
            lines.append(line[:cut])
            line = line[cut:]
        lines.append(line)
    return "\n".join(lines)


def fold_html(html, limit=LINE_BYTES):
    """The HTML part under SMTP's line limit without changing what it shows: a line break in running Chinese
    text renders as a space, so lines break inside a tag, right after its name (``<strong\n>`` is the same tag),
    or, in a long run of text with no tag, inside an empty comment."""
    lines = []
    for line in html.split("\n"):
        while len(line.encode()) > limit:
            width = _fits(line, limit - len("<!--"))
            # Whole tag names only (a search bounded at ``width`` would match the first letters of a longer name).
            names = [end for end in (m.end() for m in _TAG_NAME.finditer(line)) if end <= width and end < len(line)]
            if names and names[-1] > 0:
                cut, joint = names[-1], ""
            elif line.rfind(">", 0, width) >= line.rfind("<", 0, width):  # in text, not inside a tag
                cut, joint = _outside_ascii_run(line, width), "<!--"
                if cut <= 0:
                    break
            else:
                break  # one tag longer than the limit (never produced by our templates): left whole
            lines.append(line[:cut] + joint)
            line = ("-->" if joint else "") + line[cut:]
        lines.append(line)
    return "\n".join(lines)


def message_id(*, issue_id, subscriber_id):
    """Derived from (issue, subscriber): a re-send after a crash carries the same Message-ID."""
    domain = settings.SUBSCRIBERS_MESSAGE_ID_DOMAIN or urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<dgd-issue{issue_id}-sub{subscriber_id}@{domain}>"


def personal_links(subscriber_id):
    token = manage_token(subscriber_id)
    return {
        "manage": absolute(reverse("subscribers:manage", args=[token])),
        "unsubscribe": absolute(reverse("subscribers:unsubscribe", args=[token])),
        "token": token,
    }


def unsubscribe_headers(*, unsubscribe_url, token, quote_token=True, action="unsubscribe"):
    """RFC 8058 one-click unsubscribe (and RFC 2369's mailto for clients that only know that). ``action`` opens
    the mailto's subject and tells whoever reads that mailbox what was asked: ``unsubscribe`` from everything,
    or ``weekly-off``, the 快讯 alone."""
    subject = quote(token) if quote_token else token
    mailto = f"mailto:{settings.SUBSCRIBERS_UNSUBSCRIBE_MAILTO}?subject={action}%20{subject}"
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>, <{mailto}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


class RenderedGroup:
    """One group's digest with placeholders for the personal parts; ``None`` parts mean: nothing to send."""

    def __init__(self, *, subject, text, html):
        self.subject, self.text, self.html = subject, text, html
        self._raw = None
        self._wire = None
        self._boundary = f"==dgd-{uuid.uuid4().hex}"

    def raw_template(self):
        """The whole message as bytes, with placeholders in the personal places: built once per group, so a
        recipient costs a few ``bytes.replace`` calls instead of a MIME build. Both bodies go as 8bit (their
        lines are folded under SMTP's limit, see ``fold_text``), so the placeholders appear verbatim."""
        if self._raw is None:
            self._raw = self._build()
        return self._raw

    def _build(self):
        boundary = self._boundary
        headers = [
            ("Subject", Header(self.subject, "utf-8").encode(linesep="\r\n")),
            ("From", sanitize_address(settings.SUBSCRIBERS_FROM_EMAIL, "utf-8")),
            ("To", TO),
            ("Date", DATE),
            ("Message-ID", MESSAGE_ID),
        ]
        if settings.SUBSCRIBERS_REPLY_TO:
            reply_to = ", ".join(sanitize_address(a, "utf-8") for a in settings.SUBSCRIBERS_REPLY_TO)
            headers.append(("Reply-To", reply_to))
        unsubscribe = unsubscribe_headers(unsubscribe_url=UNSUBSCRIBE_URL, token=TOKEN, quote_token=False)
        headers += [
            ("List-Unsubscribe", unsubscribe["List-Unsubscribe"].replace(", ", ",\r\n ")),
            ("List-Unsubscribe-Post", unsubscribe["List-Unsubscribe-Post"]),
            ("MIME-Version", "1.0"),
            ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        ]
        parts = []
        for subtype, body in (("plain", self.text), ("html", self.html)):
            body = body.replace("\r\n", "\n").replace("\n", "\r\n")
            parts.append(
                f'--{boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
                f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
            )
        head = "".join(f"{name}: {value}\r\n" for name, value in headers)
        return (head + "\r\n" + "".join(parts) + f"--{boundary}--\r\n").encode()

    def wire_parts(self):
        """``raw_template()`` dot-stuffed for SMTP's DATA and split at its placeholders (literal, placeholder,
        literal, …), once per group: a recipient then costs one join, not nine copies of the message and
        smtplib's scan of all of it for lines that start with a period. (Only these parts are kept: the raw
        template is built again in the rare case a personal value needs the whole-message path.)"""
        if self._wire is None:
            self._wire = _PLACEHOLDERS.split(_LEADING_PERIOD.sub(b"..", self._raw or self._build()))
        return self._wire

    @property
    def empty(self):
        return self.text is None


class DigestRenderer:
    """Renders the digest of one issue revision for groups of equal preferences; cached per process."""

    _cache = OrderedDict()  # (issue_id, revision, preferences key) -> RenderedGroup
    MAX_CACHED = 256  # bounded (~40 MB at most): memory stays flat however many recipients

    def __init__(self, *, issue, data, revision_number):
        self.issue, self.data, self.revision_number = issue, data, revision_number
        self._display = None
        self._templates = None

    def content_key(self, preferences_key):
        """Subscribers whose preferences pick the same entries get the same digest: group by that, not by the
        preferences themselves (there are far fewer distinct selections than distinct preferences)."""
        scope, provinces, themes = preferences_key
        provinces, themes = set(provinces), set(themes)
        if scope == Scope.LINKS or not (provinces or themes):  # the links-only mail is the same for everyone
            return (scope, None)
        matched = tuple(
            entry["number"]
            for section in self.data["sections"]
            for entry in section["entries"]
            if entry_matches(entry, provinces=provinces, themes=themes)
        )
        return (scope, matched)

    def group(self, preferences_key):
        key = self.content_key(preferences_key)
        cache_key = (self.issue.pk, self.revision_number, key)
        rendered = self._cache.get(cache_key)
        if rendered is None:
            rendered = self._render(key)
            self._cache[cache_key] = rendered
            while len(self._cache) > self.MAX_CACHED:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(cache_key)
        return rendered

    def _render(self, key):
        scope, matched = key
        if self._display is None:
            self._display = issue_for_display(self.data)
            self._templates = [get_template(name) for name in (*TEMPLATES, HTML_TEMPLATE)]
        display = self._display
        if scope == Scope.LINKS:
            content = {"matching": [], "sections": [], "links_only": True}
        else:
            content = digest_content(display, scope=scope, provinces=(), themes=(), matching_numbers=matched)
        subject = self._templates[0].render({"issue": display}).strip()
        if not content["matching"] and not content["sections"] and not content.get("links_only"):
            return RenderedGroup(subject=subject, text=None, html=None)
        context = {
            "issue": display,
            **content,
            "name": NAME,
            "manage_url": MANAGE_URL,
            "unsubscribe_url": UNSUBSCRIBE_URL,
            "web_url": absolute(self.issue.get_absolute_url()),
            "pdf_url": absolute(reverse("issues:pdf", args=[self.issue.year, f"{self.issue.month:02d}"])),
            "publisher": settings.DGD_PUBLISHER,
        }
        text = fold_text(self._templates[1].render(context))
        html = fold_html(css_inline.inline(self._templates[2].render({**context, "name": NAME_HTML})))
        return RenderedGroup(subject=" ".join(subject.split()), text=text, html=html)


def personalise(rendered, *, subscriber_id, email, name, issue_id):
    """The message for one subscriber: the shared parts with the personal ones substituted."""
    links = personal_links(subscriber_id)
    display_name = name or _("reader")
    text = (
        rendered.text.replace(NAME, display_name)
        .replace(MANAGE_URL, links["manage"])
        .replace(UNSUBSCRIBE_URL, links["unsubscribe"])
    )
    html = (
        rendered.html.replace(NAME_HTML, escape(display_name))
        .replace(MANAGE_URL, escape(links["manage"]))
        .replace(UNSUBSCRIBE_URL, escape(links["unsubscribe"]))
    )
    headers = {
        "Message-ID": message_id(issue_id=issue_id, subscriber_id=subscriber_id),
        **unsubscribe_headers(unsubscribe_url=links["unsubscribe"], token=links["token"]),
    }
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=text,
        from_email=settings.SUBSCRIBERS_FROM_EMAIL,
        to=[email],
        reply_to=settings.SUBSCRIBERS_REPLY_TO or None,
        headers=headers,
    )
    message.attach_alternative(html, "text/html")
    return message


def personalise_raw(rendered, *, subscriber_id, email, name, issue_id):
    """The same message as ``personalise`` as bytes ready for SMTP, or None when the address is not plain
    ASCII (then the full MIME build encodes it)."""
    if not email.isascii():
        return None
    links = personal_links(subscriber_id)
    display_name = name or _("reader")
    return (
        rendered.raw_template()
        .replace(TO.encode(), email.encode())
        .replace(MESSAGE_ID.encode(), message_id(issue_id=issue_id, subscriber_id=subscriber_id).encode())
        .replace(DATE.encode(), formatdate(localtime=settings.EMAIL_USE_LOCALTIME).encode())
        .replace(NAME_HTML.encode(), escape(display_name).encode())
        .replace(NAME.encode(), display_name.encode())
        .replace(MANAGE_URL.encode(), links["manage"].encode())
        .replace(UNSUBSCRIBE_URL.encode(), links["unsubscribe"].encode())
        .replace(TOKEN.encode(), quote(links["token"]).encode())
    )


def personalise_wire(rendered, *, subscriber_id, email, name, issue_id):
    """``personalise_raw``'s message ready for SMTP's DATA (dot-stuffed), or None when the address is not plain
    ASCII. Built from ``wire_parts``; a personal value that could itself start a line (a line break in it, or a
    leading period) sends it through the whole-message path instead."""
    if not email.isascii():
        return None
    links = personal_links(subscriber_id)
    display_name = name or _("reader")
    values = {
        TO: email,
        MESSAGE_ID: message_id(issue_id=issue_id, subscriber_id=subscriber_id),
        DATE: formatdate(localtime=settings.EMAIL_USE_LOCALTIME),
        NAME_HTML: escape(display_name),
        NAME: display_name,
        MANAGE_URL: links["manage"],
        UNSUBSCRIBE_URL: links["unsubscribe"],
        TOKEN: quote(links["token"]),
    }
    if any(value.startswith(".") or "\n" in value or "\r" in value for value in values.values()):
        raw = personalise_raw(rendered, subscriber_id=subscriber_id, email=email, name=name, issue_id=issue_id)
        return _LEADING_PERIOD.sub(b"..", raw)
    encoded = {placeholder.encode(): value.encode() for placeholder, value in values.items()}
    parts = list(rendered.wire_parts())
    parts[1::2] = [encoded[placeholder] for placeholder in parts[1::2]]
    return b"".join(parts)
