"""Template filters for a keyword's matches in the library's results (``library.highlight``)."""

from django import template

from library.highlight import highlighted, snippet

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
