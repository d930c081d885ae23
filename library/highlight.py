"""A keyword's matches in the results: the text with each match in ``<mark>``, and a snippet of the summary
around the first match, so a long list can be scanned (docs/library.md, "Keyword search").

Search compares normalised text (``policies.indexing.normalized``: letters and digits only), so a match may
run across punctuation and spaces: 免证办实施方案 marks 免证办”实施方案 in “免证办”实施方案. The text is
escaped piece by piece and only the ``<mark>`` tags are added, so nothing a title or summary holds is ever
read as markup.
"""

import re
from functools import lru_cache

from django.utils.safestring import mark_safe

from library.markup import esc
from policies.indexing import query_phrases, query_tokens

SNIPPET_LENGTH = 100  # characters of the summary shown
SNIPPET_BEFORE = 24  # of them before the first match
_BETWEEN = r"[\W_]*"  # what normalising drops may lie between two characters of a match


def _character(char):
    """A normalised query character as a pattern: itself, its upper case and its full-width form (normalising
    made the query lower case and ASCII; the text keeps what it had)."""
    forms = {char, char.upper()}
    for form in list(forms):
        if "!" <= form <= "~":
            forms.add(chr(ord(form) + 0xFEE0))
    if len(forms) == 1:
        return re.escape(char)
    return "[" + "".join(re.escape(form) for form in sorted(forms)) + "]"


@lru_cache(maxsize=256)
def keyword_pattern(keyword):
    """One pattern for the keyword's phrases and words (what a match holds), the longest first so a phrase is
    marked whole before its words; None when the keyword has nothing to search for."""
    pieces = sorted({*query_phrases(keyword), *query_tokens(keyword)}, key=lambda piece: (-len(piece), piece))
    if not pieces:
        return None
    return re.compile("|".join(_BETWEEN.join(_character(char) for char in piece) for piece in pieces))


def _marked(text, pattern):
    parts, position = [], 0
    for match in pattern.finditer(text):
        parts.append(esc(text[position : match.start()]))
        parts.append(f"<mark>{esc(match.group())}</mark>")
        position = match.end()
    parts.append(esc(text[position:]))
    return mark_safe("".join(parts))  # every piece of the text escaped above


def highlighted(text, keyword):
    """``text`` escaped, with each match of ``keyword`` in ``<mark>``."""
    pattern = keyword_pattern(keyword) if keyword else None
    return _marked(text or "", pattern) if pattern else esc(text or "")


def snippet(text, keyword, *, length=SNIPPET_LENGTH):
    """About ``length`` characters of ``text`` (a summary: its ``**`` markup and line breaks dropped) around the
    keyword's first match, matches marked, with … where it was cut; the beginning when nothing matches."""
    text = " ".join((text or "").replace("**", "").split())
    pattern = keyword_pattern(keyword) if keyword else None
    match = pattern.search(text) if pattern else None
    start = max(0, match.start() - SNIPPET_BEFORE) if match else 0
    end = min(len(text), max(start + length, match.end() if match else 0))
    window = text[start:end]
    shown = _marked(window, pattern) if pattern else esc(window)
    return mark_safe(("…" if start > 0 else "") + shown + ("…" if end < len(text) else ""))
