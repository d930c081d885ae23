"""Template filters for a keyword's matches in the library's results (``library.highlight``)."""

from django import template

from library.highlight import highlighted, snippet
from library.rows import entry_rows_html

register = template.Library()


def _keyword(criteria):
    return getattr(criteria, "keyword", "") or ""


@register.filter
def keyword_marked(text, criteria):
    """``{{ entry.display_title|keyword_marked:criteria }}``: the text escaped, the keyword's matches marked
    (the text unmarked where there is no keyword or no criteria)."""
    return highlighted(text, _keyword(criteria))


@register.filter
def keyword_snippet(entry, criteria):
    """``{{ entry|keyword_snippet:criteria }}``: the summary around the keyword's first match, marked."""
    return snippet(entry.summary, _keyword(criteria))


@register.simple_tag(takes_context=True)
def entry_rows(context, entries):
    """``{% entry_rows entries %}``: the entries as list rows (``library.rows``), under the context's keyword
    (``criteria``) and linking back to the context's list (``back_query``)."""
    return entry_rows_html(entries, criteria=context.get("criteria"), back_query=context.get("back_query") or "")
