"""The public archive's search: what readers can find is what they can read, the published revisions only.

An archive holds one issue a month, so the latest revision of every published issue is read in one query and
matched here; every word of the query must occur in the issue's title, its introduction or one entry (title,
issuing body, summary)."""

import json

from django.db.models import OuterRef, Subquery

from issues.models import Issue, IssueRevision
from issues.selectors import _anchor
from issues.templatetags.issue_text import plain

MAX_QUERY = 100  # characters: a longer query is cut, not refused
MAX_HITS_PER_ISSUE = 20


def search_terms(query):
    """The query's words, lower-cased, at most ``MAX_QUERY`` characters in all."""
    return [word.casefold() for word in (query or "")[:MAX_QUERY].split() if word.strip()]


def _entry_text(entry):
    return " ".join(str(entry.get(key) or "") for key in ("title", "issuer", "action", "doc_number", "summary"))


def _contains_all(text, terms):
    text = plain(text).casefold()
    return all(term in text for term in terms)


def _snippet(text, terms, width=60):
    """Some characters of ``text`` around the first term, for the result list (escaped by the template)."""
    text = " ".join(plain(text).split())
    folded = text.casefold()
    at = min((folded.find(term) for term in terms if term in folded), default=0)
    start = max(at - width // 3, 0)
    return ("…" if start else "") + text[start : start + width] + ("…" if start + width < len(text) else "")


def archive_search(query):
    """Published issues matching ``query``, newest first: ``[{"issue", "in_issue", "intro", "entries"}]`` where
    ``entries`` are the matching entries (number, title, anchor, snippet) of that issue."""
    terms = search_terms(query)
    if not terms:
        return []
    latest = IssueRevision.objects.filter(issue=OuterRef("pk")).order_by("-number").values("data")[:1]
    issues = (
        Issue.objects.published()
        .select_related("series")
        .annotate(revision_data=Subquery(latest))
        .order_by("-year", "-month", "series__name")
    )
    results = []
    for issue in issues:
        data = issue.revision_data or {}
        if isinstance(data, str):  # SQLite hands a subquery's JSON back as text
            data = json.loads(data)
        results.extend(_issue_hits(issue, data, terms))
    return results


def _issue_hits(issue, data, terms):
    intro = data.get("intro", "")
    entries = [
        {
            "number": entry["number"],
            "title": entry.get("title", ""),
            "issuer": entry.get("issuer", "") if entry.get("kind") == "policy" else "",
            "section": section.get("title", ""),
            "anchor": _anchor(entry["number"]),
            "snippet": _snippet(entry.get("summary", ""), terms),
        }
        for section in data.get("sections", [])
        for entry in section.get("entries", [])
        if _contains_all(_entry_text(entry), terms)
    ]
    title_hit = _contains_all(str(issue), terms)
    intro_hit = bool(intro) and _contains_all(intro, terms)
    if not (title_hit or intro_hit or entries):
        return []
    return [
        {
            "issue": issue,
            "intro": _snippet(intro, terms) if intro_hit else "",
            "entries": entries[:MAX_HITS_PER_ISSUE],
            "more": max(len(entries) - MAX_HITS_PER_ISSUE, 0),
        }
    ]
