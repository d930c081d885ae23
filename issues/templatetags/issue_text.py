"""Render the catalogue's light markup: paragraphs split by blank lines, **bold** key phrases, and an
analysis's ``## `` / ``### `` sub-headings. Everything else is escaped."""

import re

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

register = template.Library()

BOLD = re.compile(r"\*\*(.+?)\*\*")


def _inline(text):
    return BOLD.sub(lambda m: f"<strong>{m.group(1)}</strong>", escape(text).replace("&ast;", "*"))


@register.filter
def richtext(text):
    paragraphs = [p.strip() for p in (text or "").split("\n\n") if p.strip()]
    return mark_safe("".join(f"<p>{_inline(p)}</p>" for p in paragraphs))


@register.filter
def analysis_body(text):
    html = []
    for block in (b.strip() for b in (text or "").split("\n\n")):
        if block.startswith("### "):
            html.append(format_html('<h5 class="sub-heading">{}</h5>', block[4:]))
        elif block.startswith("## "):
            html.append(format_html('<h4 class="sub-heading">{}</h4>', block[3:]))
        elif block:
            html.append(f"<p>{_inline(block)}</p>")
    return mark_safe("".join(html))


@register.filter
def plain(text):
    """The text without markup, for feeds and titles."""
    return BOLD.sub(r"\1", text or "").replace("## ", "").replace("### ", "")
