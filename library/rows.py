"""The entries of the library's lists as markup: the list page, a province's latest entries, an entry's related
ones and an alert's mail page. Built as a string, like the filter's checkboxes (``library.forms``): a template
included per row cost more than every query of the page (docs/benchmarks.md). Every value is escaped here; a
keyword's matches are marked by ``library.highlight``, which escapes the text around them."""

from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from library.highlight import highlighted, snippet
from library.markup import esc
from policies.models import Kind, Level


def entry_rows_html(entries, *, criteria=None, back_query=""):
    """``<li>`` per entry (its kind, level, regions, dates, title linking to its page with ``back_query``, issuer
    and 文号, the keyword's snippet, themes and issues), from ``library.selectors.ListedEntry``."""
    keyword = getattr(criteria, "keyword", "") or ""
    kinds = {value: str(label) for value, label in Kind.choices}
    levels = {value: str(label) for value, label in Level.choices}
    url = reverse("library:entry", args=[987654321]).replace("987654321/", "")
    back = f"?{esc(back_query)}" if back_query else ""
    issued = esc(_("Issued"))
    rows = []
    for entry in entries:
        meta = [f'<span class="tag kind-{esc(entry.kind)}">{esc(kinds.get(entry.kind, entry.kind))}</span>']
        if entry.level:
            meta.append(f'<span class="tag">{esc(levels.get(entry.level, entry.level))}</span>')
        meta += [f'<span class="tag region">{esc(region)}</span>' for region in entry.regions]
        meta.append(_time(entry.published_on))
        if entry.issued_on:
            meta.append(f'<span class="issued">{issued} {_time(entry.issued_on)}</span>')
        source = ""
        if entry.issuer or entry.doc_number:
            between = " · " if entry.issuer and entry.doc_number else ""
            source = (
                f'<div class="entry-source">{esc(entry.issuer)}{between}{highlighted(entry.doc_number, keyword)}</div>'
            )
        found = f'<p class="snippet">{snippet(entry.summary, keyword)}</p>' if keyword else ""
        tags = [f'<span class="tag theme">{esc(theme)}</span>' for theme in entry.themes]
        tags += [f'<span class="issue-ref">{esc(issue)}</span>' for issue in entry.issues]
        rows.append(
            f'<li class="entry" data-entry="{entry.pk}">\n  <div class="entry-meta">{"".join(meta)}</div>\n'
            f'  <a class="entry-title" href="{url}{entry.pk}/{back}">{highlighted(entry.display_title, keyword)}</a>\n'
            f'  {source}{found}\n  <div class="entry-tags">{"".join(tags)}</div>\n</li>\n'
        )
    return mark_safe("".join(rows))  # every value escaped above


def _time(day):
    return f'<time datetime="{day.isoformat()}">{day.isoformat()}</time>'
