"""Reads of the sales library. One criteria object and one row query (``catalogue_rows``) serve the page,
the counts, the facets, the map and the exports.

The query is driven by the narrowest index table the criteria allow (docs/library.md): the region ×
theme pair table, else the region or theme table, else one row per entry; each carries the date, kind and
level, and is walked newest first on ``(published_on, entry)``. A keyword adds a tsvector match (PostgreSQL)
or plain containment (SQLite).
"""

import datetime
import hashlib
import json
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import NamedTuple

from django.contrib.postgres.search import SearchQuery
from django.core.cache import cache
from django.db import connection
from django.db.models import Case, Count, ExpressionWrapper, F, IntegerField, Q, Sum, Value, When
from django.db.models.functions import ExtractYear, Length, Replace
from django.db.models.signals import post_delete, post_save

from issues.models import Issue, IssueEntry, issue_label
from policies.indexing import SAMPLE_BUCKETS, SAMPLE_TABLE_BUCKETS, catalogue_version, query_phrases, tsquery_text
from policies.models import (
    CatalogueCount,
    CatalogueRegion,
    CatalogueRegionTheme,
    CatalogueRow,
    CatalogueSample,
    CatalogueTheme,
    Entry,
    Region,
    Theme,
    display_title,
)

PER_PAGE = 20
MAX_PAGE = 500  # deeper than this, the "next" links (keyset) go on; a page number would mean a deep OFFSET
EXACT_COUNT_LIMIT = 5000  # above the planner's estimate of this, a count is shown as 约 N 条
KEYWORD_EXACT_SCAN = 1000  # with a keyword, an exact count when the other filters leave at most this many rows
RELEVANCE_WINDOW = 500  # relevance ranks the newest matches (25 pages), so it stays fast under a broad keyword
FACET_CACHE_SECONDS = 600


@dataclass(frozen=True)
class Criteria:
    regions: tuple = ()
    themes: tuple = ()
    levels: tuple = ()
    kinds: tuple = ()
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    issuer: str = ""
    issue_id: int | None = None
    keyword: str = ""
    tokens: tuple = ()
    sort: str = "newest"
    # Entries that became ready in (ready_after, ready_until]: a saved filter's alert and feed (``alerts``)
    # are the page's list restricted to this window. Not a page parameter.
    ready_after: datetime.datetime | None = None
    ready_until: datetime.datetime | None = None

    @property
    def by_relevance(self):
        return self.sort == "relevance" and bool(self.tokens)

    def cache_key(self):
        data = asdict(self)
        data.pop("sort")
        return hashlib.sha256(json.dumps(data, default=str, sort_keys=True).encode()).hexdigest()


@dataclass
class LibraryPage:
    entries: list
    number: int | None
    has_next: bool
    next_after: str | None
    ranked: bool = False
    errors: list = field(default_factory=list)


class _LexemeQuery(SearchQuery):
    """A tsquery in PostgreSQL's own syntax (``policies.indexing.tsquery_text``), cast as it is: the index's
    lexemes are the text's own two-character runs, with no parser or dictionary in between."""

    template = "%(expressions)s::tsquery"


def _search_query(words):
    return _LexemeQuery(" & ".join(f"({tsquery_text(word)})" for word in words))


def _keyword_match(criteria, *, sample=False):
    """The keyword as a condition on the index table (docs/library.md, "Keyword search"): every word must occur
    in the entry's normalised text. On PostgreSQL a word of one or two characters is looked up among the
    tsvector's lexemes (exact: they are every two-character run of the text), a longer one by ``LIKE`` on the
    text (trigram index; the planner estimates it from the column's statistics, which it cannot do for the
    two-character runs of a long word ANDed). The sample table has no text column: there every word goes
    through the lexemes, a longer one as all its runs (a few more matches at most, in an estimate). On SQLite,
    ``LIKE`` on the text for every word.

    When jieba cut a phrase into several words, "or every phrase whole" is added: implied by the words, so it
    changes nothing found, but the planner, which takes words as independent (减免 and 材料 in 4 % of entries
    each, so together in 0.16 %), then sees how often they come as the phrase typed and walks the newest rows
    instead of reading every match."""
    words = criteria.tokens
    if connection.vendor != "postgresql":
        return Q(*(Q(search_text__contains=word) for word in words))
    if sample:
        return Q(vector=_search_query(words))
    match = _all_in_text(words)
    phrases = query_phrases(criteria.keyword)
    return match | _all_in_text(phrases) if len(words) > len(phrases) else match


def _all_in_text(pieces):
    """Every piece occurs in ``search_text``: one or two characters through the tsvector, longer by ``LIKE``."""
    short = [piece for piece in pieces if len(piece) <= 2]
    match = Q(*(Q(search_text__contains=piece) for piece in pieces if len(piece) > 2))
    return match & Q(vector=_search_query(short)) if short else match


def _keyword_filter(queryset, criteria, *, on_row_table):
    if not criteria.tokens:
        return queryset.none()
    if on_row_table:
        return queryset.filter(_keyword_match(criteria, sample=queryset.model is CatalogueSample))
    return queryset.filter(entry_id__in=CatalogueRow.objects.filter(_keyword_match(criteria)).values("entry_id"))
    return queryset


def _driver(criteria):
    """The index table a query starts from, and whether an entry can appear in it more than once."""
    if criteria.regions and criteria.themes:
        rows = CatalogueRegionTheme.objects.filter(region_id__in=criteria.regions, theme_id__in=criteria.themes)
        return rows, len(criteria.regions) > 1 or len(criteria.themes) > 1
    if criteria.regions:
        return CatalogueRegion.objects.filter(region_id__in=criteria.regions), len(criteria.regions) > 1
    if criteria.themes:
        return CatalogueTheme.objects.filter(theme_id__in=criteria.themes), len(criteria.themes) > 1
    return CatalogueRow.objects.all(), False


def _filtered(criteria, rows):
    if criteria.kinds:
        rows = rows.filter(kind__in=criteria.kinds)
    if criteria.levels:
        rows = rows.filter(level__in=criteria.levels)
    if criteria.date_from:
        rows = rows.filter(published_on__gte=criteria.date_from)
    if criteria.date_to:
        rows = rows.filter(published_on__lte=criteria.date_to)
    if criteria.issuer:
        rows = rows.filter(entry__issuer__icontains=criteria.issuer)
    if criteria.issue_id:
        rows = rows.filter(entry_id__in=IssueEntry.objects.filter(issue_id=criteria.issue_id).values("entry_id"))
    if criteria.keyword:
        rows = _keyword_filter(rows, criteria, on_row_table=rows.model in (CatalogueRow, CatalogueSample))
    if criteria.ready_after or criteria.ready_until:
        rows = rows.filter(entry_id__in=_ready_within(criteria).values("pk"))
    return rows


def _ready_within(criteria):
    """The entries that became ready in the criteria's window (an index on ``ready_at``: a few rows)."""
    entries = Entry.objects.order_by()
    if criteria.ready_after:
        entries = entries.filter(ready_at__gt=criteria.ready_after)
    if criteria.ready_until:
        entries = entries.filter(ready_at__lte=criteria.ready_until)
    return entries


def catalogue_rows(criteria):
    """The matching ready entries as ``(published_on, entry_id)`` rows, newest first: the one list behind
    the page, the exports and the counts."""
    rows, duplicates = _driver(criteria)
    rows = _filtered(criteria, rows).order_by("-published_on", "-entry_id").values_list("published_on", "entry_id")
    return rows.distinct() if duplicates else rows


MAX_BRANCHES = 16


def _branches(criteria):
    """One query per chosen (region, theme) value when the filter holds several, each walking its own index
    newest first; None when one query does (a single value each, or too many combinations)."""
    regions, themes = criteria.regions or (None,), criteria.themes or (None,)
    if len(regions) * len(themes) == 1 or len(regions) * len(themes) > MAX_BRANCHES:
        return None
    branches = []
    for region in regions:
        for theme in themes:
            if region and theme:
                rows = CatalogueRegionTheme.objects.filter(region_id=region, theme_id=theme)
            elif region:
                rows = CatalogueRegion.objects.filter(region_id=region)
            else:
                rows = CatalogueTheme.objects.filter(theme_id=theme)
            branches.append(
                _filtered(criteria, rows).order_by("-published_on", "-entry_id").values_list("published_on", "entry_id")
            )
    return branches


def _after(rows, after):
    """Rows strictly after the keyset position ``(day, id)``; the ``<=`` bound lets the index start there."""
    day, pk = after
    return rows.filter(published_on__lte=day).filter(Q(published_on__lt=day) | Q(entry_id__lt=pk))


def rows_slice(criteria, *, after=None, offset=0, limit):
    """``limit`` matching ``(published_on, entry_id)`` rows from ``offset`` (or after the keyset position
    ``after``), newest first. Several regions or themes on PostgreSQL: a UNION of one short index walk per
    value, instead of sorting every matching row to remove duplicates."""
    branches = _branches(criteria) if connection.vendor == "postgresql" else None
    if branches:
        if after:
            branches = [_after(branch, after) for branch in branches]
        branches = [branch[: offset + limit] for branch in branches]
        combined = branches[0].union(*branches[1:]).order_by("-published_on", "-entry_id")
        return list(combined[offset : offset + limit])
    rows = catalogue_rows(criteria)
    if after:
        rows = _after(rows, after)
    return list(rows[offset : offset + limit])


def _entry_ids(criteria):
    """The matching entry ids as a subquery (for facets)."""
    return catalogue_rows(criteria).values("entry_id").order_by()


def entries_with_tags(ids):
    """The entries of ``ids``, in that order, with their regions, themes and issues: four queries whatever the
    number of ids. ``entry.regions.all()`` (and the others) read what was loaded, as after ``prefetch_related``,
    which is not used: it clones a filtered queryset per entry and relation, which cost more than the queries
    on a page of 20 (docs/benchmarks.md)."""
    if not ids:
        return []
    by_id = {entry.pk: entry for entry in Entry.objects.filter(pk__in=ids)}
    tags = {
        "regions": _by_entry(Region.objects.filter(entries__in=ids).annotate(tagged=F("entries"))),
        "themes": _by_entry(Theme.objects.filter(entries__in=ids).annotate(tagged=F("entries"))),
        "issue_items": _by_entry(
            IssueEntry.objects.filter(entry_id__in=ids)
            .select_related("issue__series")
            .order_by("issue__year", "issue__month")
            .annotate(tagged=F("entry_id"))
        ),
    }
    models = {"regions": Region, "themes": Theme, "issue_items": IssueEntry}
    for pk, entry in by_id.items():
        entry._prefetched_objects_cache = {
            name: _loaded(models[name], found.get(pk, [])) for name, found in tags.items()
        }
    return [by_id[pk] for pk in ids if pk in by_id]


def _by_entry(queryset):
    found = {}
    for obj in queryset:
        found.setdefault(obj.tagged, []).append(obj)
    return found


def _loaded(model, objects):
    """A queryset that holds ``objects`` already (what ``prefetch_related`` leaves in an instance's cache)."""
    queryset = model._default_manager.get_queryset()
    queryset._result_cache = objects
    queryset._prefetch_done = True
    return queryset


@dataclass(frozen=True, slots=True)
class ListedEntry:
    """An entry as the library's lists show it (``library.rows``): plain values, its tags as names. Lists read
    twenty of these per page; building them costs a fifth of loading entries and tags as model instances."""

    pk: int
    kind: str
    level: str
    title: str
    issuer: str
    doc_number: str
    summary: str
    published_on: datetime.date
    issued_on: datetime.date | None
    regions: tuple  # short names, in code order
    themes: tuple  # names, in the themes' order
    issues: tuple  # issue labels, oldest first

    @property
    def display_title(self):
        return display_title(self.kind, self.title, self.issuer)


_LISTED_FIELDS = ("id", "kind", "level", "title", "issuer", "doc_number", "summary", "published_on", "issued_on")


def listed_entries(ids):
    """The entries of ``ids``, in that order, as ``ListedEntry``: one query on PostgreSQL (each entry's tags
    gathered by subqueries on their own indexes), four elsewhere."""
    if not ids:
        return []
    rows = _listed_rows_postgresql(ids) if connection.vendor == "postgresql" else _listed_rows_orm(ids)
    by_id = {}
    for *values, regions, themes, issues in rows:
        by_id[values[0]] = ListedEntry(
            *values,
            regions=tuple(regions or ()),
            themes=tuple(themes or ()),
            issues=tuple(issue_label(*issue) for issue in issues or ()),
        )
    return [by_id[pk] for pk in ids if pk in by_id]


def _listed_rows_postgresql(ids):
    tables = {
        "entry": Entry._meta.db_table,
        "entry_regions": Entry.regions.through._meta.db_table,
        "region": Region._meta.db_table,
        "entry_themes": Entry.themes.through._meta.db_table,
        "theme": Theme._meta.db_table,
        "issue_entry": IssueEntry._meta.db_table,
        "issue": Issue._meta.db_table,
        "series": Issue.series.field.related_model._meta.db_table,
    }
    columns = ", ".join(f"e.{name}" for name in _LISTED_FIELDS)
    sql = f"""
        SELECT {columns},
          ARRAY(SELECT r.short_name FROM {tables["entry_regions"]} er JOIN {tables["region"]} r ON r.code = er.region_id
                WHERE er.entry_id = e.id ORDER BY r.code),
          ARRAY(SELECT t.name FROM {tables["entry_themes"]} et JOIN {tables["theme"]} t ON t.id = et.theme_id
                WHERE et.entry_id = e.id ORDER BY t.position, t.id),
          (SELECT json_agg(json_build_array(s.name, i.year, i.month, i.number) ORDER BY i.year, i.month, i.id)
             FROM {tables["issue_entry"]} ie JOIN {tables["issue"]} i ON i.id = ie.issue_id
             JOIN {tables["series"]} s ON s.id = i.series_id WHERE ie.entry_id = e.id)
        FROM {tables["entry"]} e WHERE e.id = ANY(%s)"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(ids)])
        return cursor.fetchall()


def _listed_rows_orm(ids):
    tags = {"regions": {}, "themes": {}, "issues": {}}
    through = Entry.regions.through.objects.filter(entry_id__in=ids)
    for entry_id, name in through.order_by("region_id").values_list("entry_id", "region__short_name"):
        tags["regions"].setdefault(entry_id, []).append(name)
    through = Entry.themes.through.objects.filter(entry_id__in=ids)
    for entry_id, name in through.order_by("theme__position", "theme_id").values_list("entry_id", "theme__name"):
        tags["themes"].setdefault(entry_id, []).append(name)
    items = IssueEntry.objects.filter(entry_id__in=ids).order_by("issue__year", "issue__month", "issue_id")
    for entry_id, *issue in items.values_list(
        "entry_id", "issue__series__name", "issue__year", "issue__month", "issue__number"
    ):
        tags["issues"].setdefault(entry_id, []).append(issue)
    return [
        (*values, *(tags[name].get(values[0]) for name in ("regions", "themes", "issues")))
        for values in Entry.objects.filter(pk__in=ids).values_list(*_LISTED_FIELDS)
    ]


def parse_after(value):
    """A keyset cursor ``2022-08-01.123`` → (date, id); None when malformed."""
    try:
        day, pk = value.split(".", 1)
        day, pk = datetime.date.fromisoformat(day), int(pk)
    except (ValueError, AttributeError):
        return None
    return (day, pk) if 0 < pk < 2**63 else None


def _relevance_window(criteria):
    """The newest ``RELEVANCE_WINDOW`` matches' ids: a subquery when one index walk gives them (the ranking is
    then one query), else the ids read first (several values' branches, each walked on its own)."""
    _rows, duplicates = _driver(criteria)
    if not duplicates:
        return catalogue_rows(criteria).values("entry_id")[:RELEVANCE_WINDOW]
    return [pk for _day, pk in rows_slice(criteria, limit=RELEVANCE_WINDOW)]


def library_page(criteria, *, page=1, after=None, per_page=PER_PAGE):
    """One page of results: by keyset cursor (``after``) when given, else by page number (up to
    ``MAX_PAGE``); under ``sort=relevance`` the newest ``RELEVANCE_WINDOW`` matches ranked by relevance."""
    if criteria.by_relevance:
        ranked = Entry.objects.filter(pk__in=_relevance_window(criteria)).annotate(rank=_relevance(criteria))
        order = ("-rank", "-published_on", "-id")
        whole = _phrases_whole(criteria)
        if whole is not None:
            ranked, order = ranked.annotate(phrases=whole), ("-phrases", *order)
        ranked = ranked.order_by(*order).values_list("id", flat=True)
        start = (page - 1) * per_page
        found = list(ranked[start : start + per_page + 1])
        return LibraryPage(
            entries=listed_entries(found[:per_page]),
            number=page,
            has_next=len(found) > per_page,
            next_after=None,
            ranked=True,
        )
    if after:
        found = rows_slice(criteria, after=after, limit=per_page + 1)
        number = None
    else:
        found = rows_slice(criteria, offset=(page - 1) * per_page, limit=per_page + 1)
        number = page
    has_next = len(found) > per_page
    found = found[:per_page]
    next_after = f"{found[-1][0].isoformat()}.{found[-1][1]}" if has_next and found else None
    return LibraryPage(
        entries=listed_entries([pk for _, pk in found]), number=number, has_next=has_next, next_after=next_after
    )


def _occurrences(field, token):
    return (Length(field) - Length(Replace(field, Value(token), Value("")))) / len(token)


def _phrases_whole(criteria):
    """Phrase first: how many of the query's phrases occur whole in the entry's normalised text (contiguous,
    whatever punctuation or spaces lie between their characters), so 免证办实施方案 ranks “免证办”实施方案 above
    an entry holding 免证办 and 实施方案 apart. A phrase that is one of the words is in every match: only the
    others are looked for (none, and the entry's text, 3,000 characters and more, is not read at all)."""
    whole = None
    for phrase in query_phrases(criteria.keyword):
        if phrase not in criteria.tokens:
            found = Case(When(catalogue_row__search_text__contains=phrase, then=Value(1)), default=Value(0))
            whole = found if whole is None else whole + found
    return None if whole is None else ExpressionWrapper(whole, output_field=IntegerField())


def _relevance(criteria):
    """A keyword in the title counts most, then in the issuing body, then each time it occurs in the summary."""
    score = Value(0)
    for token in criteria.tokens:
        score = score + Case(When(title__icontains=token, then=Value(10)), default=Value(0))
        score = score + Case(When(issuer__icontains=token, then=Value(3)), default=Value(0))
        score = score + _occurrences("summary", token)
    return ExpressionWrapper(score, output_field=IntegerField())


def _planner_rows(queryset):
    if queryset.query.is_empty():  # nothing can match (a keyword with no words): Django runs no query
        return 0
    plan = json.loads(queryset.explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def library_list(criteria, *, page=1, after=None, per_page=PER_PAGE):
    """``(page, count, approximate)``: one page of results and the list's count, each from what is cheapest:
    where the counts table says nothing matches, no index is walked; where it gives the count, that is it;
    else the first page, when it holds every match, is the count (``library_count``)."""
    counted = table_count(criteria)
    if counted == 0:
        return LibraryPage(entries=[], number=page, has_next=False, next_after=None), 0, False
    results = library_page(criteria, page=page, after=after, per_page=per_page)
    if counted is not None:
        return results, counted, False
    count, approximate = library_count(criteria, first_page=results if page == 1 and not after else None)
    return results, count, approximate


def table_count(criteria):
    """The exact number of matches from the counts table, or None when it cannot give it (or on SQLite): at
    most one region and one theme, kinds, levels and dates; the sums over a few hundred rows (every entry has
    one kind) where a province's index holds 190,000 at a million entries."""
    if connection.vendor != "postgresql":
        return None
    counted = _counted_facet(criteria, by="kinds")
    return None if counted is None else sum(counted.values())


def library_count(criteria, *, first_page=None):
    """``(count, approximate)``: exact when small, else the planner's estimate rounded to two figures (shown
    as 约 N 条): an exact count under a broad keyword costs a heap visit per match (docs/library.md).
    ``first_page`` (a ``LibraryPage`` of the same criteria, numbered 1): when it holds every match, they are
    the count; when it has a next page, an estimate is never below what it shows."""
    if first_page is not None and first_page.number == 1 and not first_page.ranked:
        if not first_page.has_next:
            return len(first_page.entries), False
        at_least = len(first_page.entries) + 1
    else:
        at_least = 0
    rows = catalogue_rows(criteria)
    if connection.vendor != "postgresql" or rows.query.is_empty():
        return rows.count(), False
    counted = table_count(criteria)
    if counted is not None:
        return counted, False
    duplicates = len(criteria.regions) > 1 or len(criteria.themes) > 1
    textual = bool(criteria.keyword or criteria.issuer)
    if not (textual or duplicates):
        # An issue: one walk of one index, exact and cheap.
        return rows.count(), False
    if criteria.issuer and not criteria.keyword:
        # The planner cannot tell how many issuers contain a name, and matching one costs a visit to the entry
        # per row: counted when the other filters leave few rows, else estimated from the sample (its own copy
        # of the issuing body), where a capped count walked 20,000 of 广东's rows for 人民政府.
        others = rows_slice(replace(criteria, issuer=""), limit=KEYWORD_EXACT_SCAN + 1)
        estimate = _sampled_count(criteria) if len(others) > KEYWORD_EXACT_SCAN else None
        if estimate is not None:
            return estimate, True
    # A keyword, an issuing body or several values: a count capped at EXACT_COUNT_LIMIT, then the estimate.
    estimate = _planner_rows(rows.order_by())
    if criteria.keyword or (textual and estimate > EXACT_COUNT_LIMIT):
        # Matching a text costs a heap visit (the vector, the entry's issuer) per row the other filters leave:
        # count exactly only if those rows are few (counted, not estimated: the planner's figures for a small or
        # churned table can be far off), else show the planner's estimate, which it makes well for a keyword
        # (the text's statistics: 445 expected for 479 found under 一网通办 in 西藏 over two years), and for an
        # issuing body when it expects many; never above what the other filters leave (exact from the counts
        # table where it can say) nor below what the first page shows.
        without_text = replace(criteria, keyword="", tokens=(), issuer="")
        others = rows_slice(without_text, limit=KEYWORD_EXACT_SCAN + 1)
        if len(others) > KEYWORD_EXACT_SCAN:
            ceiling = table_count(without_text)
            if ceiling is not None:
                estimate = min(estimate, ceiling)
            return about(max(estimate, at_least)), True
    if duplicates and not textual:
        bounds = _branch_bounds(criteria)
        if bounds and bounds[0] > EXACT_COUNT_LIMIT:
            # The largest branch alone holds more than an exact count would walk: the estimate, kept between what
            # the largest branch holds and what all of them hold together (each exact, from the counts table).
            low, high = bounds
            return about(min(max(estimate, low), high)), True
    exact = len(rows_slice(criteria, limit=EXACT_COUNT_LIMIT + 1))
    if exact > EXACT_COUNT_LIMIT:
        return about(max(estimate, exact)), True
    return exact, False


def _branch_bounds(criteria):
    """Under several regions or themes (no keyword, issuing body or issue): ``(largest, total)``, the matches of
    the largest single (region, theme) branch and the sum over all of them (an entry in two branches counted
    twice), exact sums from the counts table in one query; None when the date filter does not fall on whole
    months (odd days would need the index tables)."""
    months, days = _month_split(criteria.date_from, criteria.date_to)
    if days or criteria.issue_id or criteria.ready_after or criteria.ready_until:
        return None
    match = {"region_id__in": criteria.regions} if criteria.regions else {"region": None}
    match |= {"theme_id__in": criteria.themes} if criteria.themes else {"theme": None}
    rows = _counts_rows(criteria, months or (None, None), **match)
    branches = [row["n"] for row in rows.values("region_id", "theme_id").annotate(n=Sum("entries"))]
    return (max(branches), sum(branches)) if branches else (0, 0)


def _next_month(day):
    return (day.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)


def _month_split(date_from, date_to):
    """The date filter as whole months ``(first, end)`` (first days; ``end`` excluded; None is open) and the
    day ranges left over at either end: ``(None, [(date_from, date_to)])`` when no whole month lies between.
    The two parts are disjoint, and an entry has one date, so counts over them add up exactly."""
    day = datetime.timedelta(days=1)
    if date_to == datetime.date.max:  # nothing is later: an open end (its next day would overflow)
        date_to = None
    try:
        first = date_from if date_from is None or date_from.day == 1 else _next_month(date_from)
        end = None
        if date_to is not None:
            end = _next_month(date_to) if (date_to + day).day == 1 else date_to.replace(day=1)
    except OverflowError:
        return None, [(date_from or datetime.date.min, date_to or datetime.date.max)]
    if first is not None and end is not None and first >= end:
        return None, [(date_from, date_to)]
    rest = []
    if date_from is not None and first != date_from:
        rest.append((date_from, first - day))
    if date_to is not None and end - day != date_to:
        rest.append((end, date_to))
    return (first, end), rest


def _counts_rows(criteria, months, **match):
    """The rows of the counts table that ``match``, under the criteria's kinds and levels, in the whole months
    ``(first, end)`` (None: open)."""
    rows = CatalogueCount.objects.filter(**match).order_by()
    if criteria.kinds:
        rows = rows.filter(kind__in=criteria.kinds)
    if criteria.levels:
        rows = rows.filter(level__in=criteria.levels)
    first, end = months
    if first is not None:
        rows = rows.filter(month__gte=first)
    if end is not None:
        rows = rows.filter(month__lt=end)
    return rows


def _sum_counts(criteria, months, value, **match):
    """Entries per ``value`` (an expression over ``CatalogueCount``: a region, theme, kind, level or year)
    summed from the counts table over the whole months."""
    counted = _counts_rows(criteria, months, **match).annotate(value=value).values("value").annotate(n=Sum("entries"))
    return {row["value"]: row["n"] for row in counted if row["n"]}


class Facet(NamedTuple):
    """A list of counts beside the filter: which choice it leaves out, where its values are read from."""

    chosen: dict  # the criteria fields it leaves out, with their empty values
    table: str  # the table its values are read from, joined on the entry
    key: str  # that table's entry column
    value: str  # its value in that table (SQL; {year} stands for the vendor's year of a date)
    provinces_only: bool = False  # only the table's rows of provinces
    counts: object = None  # its value in the counts table (an expression), None when that table has not got it
    column: str = ""  # the sample table's column it is read from
    sampled: str = ""  # its value there, when not the column itself (SQL over ``sampled``)
    vocabulary: object = None  # for an array column: the values each counted in it (a function)


def _province_codes():
    return [province.code for province in provinces()]


def _theme_ids():
    return [theme.pk for theme in themes()]


FACETS = {
    "provinces": Facet(
        {"regions": ()},
        "policies_catalogueregion",
        "entry_id",
        "t.region_id",
        True,
        F("region_id"),
        column="provinces",
        vocabulary=_province_codes,
    ),
    "themes": Facet(
        {"themes": ()},
        "policies_cataloguetheme",
        "entry_id",
        "t.theme_id",
        counts=F("theme_id"),
        column="themes",
        vocabulary=_theme_ids,
    ),
    "levels": Facet({"levels": ()}, "policies_cataloguerow", "entry_id", "t.level", counts=F("level"), column="level"),
    "kinds": Facet({"kinds": ()}, "policies_cataloguerow", "entry_id", "t.kind", counts=F("kind"), column="kind"),
    "years": Facet(
        {"date_from": None, "date_to": None},
        "policies_cataloguerow",
        "entry_id",
        "{year}",
        counts=ExtractYear("month"),
        column="published_on",
        sampled="EXTRACT(YEAR FROM published_on)::int",
    ),
    "issuers": Facet({"issuer": ""}, "policies_entry", "id", "t.issuer", column="issuer"),
}
ISSUERS_KEPT = 50  # the issuer facet keeps its most frequent names (the page shows 20)


def facet_criteria(criteria, by):
    """What a facet counts under: the filter without its own choice. The count beside a province is the number
    of entries that match everything else and are filed under that province, which is what its link (the
    filter with that province instead of the chosen ones) shows; the same for every list."""
    return replace(criteria, **FACETS[by].chosen, sort="newest")


def _counts_match(criteria, by):
    """The rows of the counts table a facet sums (``CatalogueCount``), or None when that table cannot give it:
    under a keyword, issuer or issue, or where an entry would be counted twice (the province list under
    several themes, the theme list under several regions, the other lists under several of either)."""
    if criteria.keyword or criteria.issuer or criteria.issue_id:
        return None
    if criteria.ready_after or criteria.ready_until:
        return None
    facet = FACETS[by]
    if facet.counts is None:
        return None
    if by == "provinces":
        if len(criteria.themes) > 1:
            return None
        return {"region__isnull": False, "is_province": True, "theme": criteria.themes[0] if criteria.themes else None}
    if by == "themes":
        if len(criteria.regions) > 1:
            return None
        return {"theme__isnull": False, "region": criteria.regions[0] if criteria.regions else None}
    if len(criteria.regions) > 1 or len(criteria.themes) > 1:
        return None
    return {
        "region": criteria.regions[0] if criteria.regions else None,
        "theme": criteria.themes[0] if criteria.themes else None,
    }


def _counted_facet(criteria, *, by):
    """A facet as exact sums over the counts table, with the odd days at either end of the date filter counted
    from the index tables; None when the table cannot give it (``_counts_match``). ``criteria`` is already
    without the facet's own choice."""
    match = _counts_match(criteria, by)
    if match is None:
        return None
    months, days = _month_split(criteria.date_from, criteria.date_to)
    counts = _sum_counts(criteria, months, FACETS[by].counts, **match) if months else {}
    if days:
        counts = dict(Counter(counts) + Counter(_days_counts(criteria, by, days)))
    return counts


def _days_counts(criteria, by, days):
    """The facet's values among the matches published within the day ranges ``days``, counted on the one index
    table that carries the filter's region or theme (at most one each, as ``_counts_match`` allows), its date,
    kind and level, and the facet's value: no visit per entry to another table. The provinces and themes are
    named, so the walk goes by the (region or theme, date) index, one range per value."""
    region = criteria.regions[0] if criteria.regions else None
    theme = criteria.themes[0] if criteria.themes else None
    if by == "provinces":
        rows = CatalogueRegionTheme.objects.filter(theme_id=theme) if theme else CatalogueRegion.objects.all()
        rows = rows.filter(is_province=True, region_id__in=_province_codes())
        value = F("region_id")
    elif by == "themes":
        rows = CatalogueRegionTheme.objects.filter(region_id=region) if region else CatalogueTheme.objects.all()
        rows = rows.filter(theme_id__in=_theme_ids())
        value = F("theme_id")
    else:
        rows, _duplicates = _driver(criteria)  # one row per entry: at most one region and one theme
        value = {"levels": F("level"), "kinds": F("kind"), "years": ExtractYear("published_on")}[by]
    if criteria.kinds:
        rows = rows.filter(kind__in=criteria.kinds)
    if criteria.levels:
        rows = rows.filter(level__in=criteria.levels)
    within = Q()
    for first, last in days:
        within |= Q(published_on__gte=first, published_on__lte=last)
    counted = rows.filter(within).order_by().annotate(value=value).values("value").annotate(n=Count("pk"))
    return {row["value"]: row["n"] for row in counted}


def _year_sql():
    if connection.vendor == "postgresql":
        return "EXTRACT(YEAR FROM t.published_on)::int"
    return "CAST(strftime('%%Y', t.published_on) AS integer)"


def _count_tags(facets, ids):
    """``{by: counts}``: the values of each of ``facets`` among the entries ``ids`` (a query of entry ids), all
    in one query over the ids found once. On PostgreSQL they are materialised first, so the planner probes each
    value's table by entry instead of scanning it whole."""
    if ids.query.is_empty():  # nothing can match (a keyword with no words)
        return {by: {} for by in facets}
    sql, params = ids.query.sql_with_params()
    materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
    counting = []
    for by in facets:  # values as text: one UNION holds them all
        facet = FACETS[by]
        province = " AND t.is_province" if facet.provinces_only else ""
        value = facet.value.format(year=_year_sql())
        counting.append(
            f"SELECT %s, CAST({value} AS text), COUNT(*) FROM ids "
            f"JOIN {facet.table} t ON t.{facet.key} = ids.entry_id{province} GROUP BY {value}"
        )
    with connection.cursor() as cursor:
        cursor.execute(f"WITH ids AS {materialized}({sql}) " + " UNION ALL ".join(counting), [*params, *facets])
        return _typed_counts(facets, cursor.fetchall())


def _typed_counts(facets, rows):
    """``(by, value as text, n)`` rows as ``{by: {value: n}}``, each value back in its own type (a region,
    theme or year is a number; a level, kind or issuing body a text)."""
    counts = {by: {} for by in facets}
    for by, value, n in rows:
        if value is not None and n:
            counts[by][value if by in ("issuers", "levels", "kinds") else int(value)] = n
    return counts


FACET_SAMPLE_ROWS = 5000  # the sample buckets read are chosen for about this many sampled matches
FACET_MIN_SAMPLE = 200  # fewer sampled matches than this (a set of under ~2,000): count them all instead


def _sample_rows(criteria, buckets):
    """The sampled entries of the buckets below ``buckets`` that match ``criteria``."""
    rows = CatalogueSample.objects.filter(sample__lt=buckets)
    rows = _filtered(replace(criteria, regions=(), themes=(), issuer=""), rows)
    if criteria.issuer:  # the sample's own copy of the issuing body: no visit to the entry per sampled row
        rows = rows.filter(issuer__icontains=criteria.issuer)
    if criteria.regions:
        rows = rows.filter(regions__overlap=list(criteria.regions))
    if criteria.themes:
        rows = rows.filter(themes__overlap=list(criteria.themes))
    return rows


COUNT_MIN_SAMPLE = 20  # sampled matches a page's estimated count rests on at least (±25 %, shown to one figure)


def _sampled_count(criteria):
    """The number of matches estimated from the sample: its first bucket (1 in 64 entries), else all six;
    None when even they hold too few matches to go by."""
    for buckets in (1, SAMPLE_TABLE_BUCKETS):
        matches = _sample_rows(criteria, buckets).count()
        if matches >= COUNT_MIN_SAMPLE:
            return about(matches * SAMPLE_BUCKETS / buckets, sampled=matches)
    return None


def _sample_counts(criteria, *, facets, buckets):
    """``(matches, {by: counts})``: how many sampled entries of the buckets below ``buckets`` match
    (``CatalogueSample``: one compact row per entry, its tags as arrays), and the ``facets`` counted over them,
    all in one scan of that small table."""
    rows = _sample_rows(criteria, buckets)
    columns = sorted({FACETS[by].column for by in facets})  # only what the facets read
    sql, params = rows.order_by().values(*columns).query.sql_with_params()
    params, counting = list(params), []
    for by in facets:  # values as text: one UNION holds them all
        facet = FACETS[by]
        if facet.vocabulary is None:
            value = facet.sampled or facet.column
            counting.append(f"SELECT %s, ({value})::text, COUNT(*) FROM sampled GROUP BY 1, 2")
            params.append(by)
        else:
            # A province or theme: one filtered count per value of the vocabulary, in one pass over the rows,
            # where unnesting each row's array and grouping the pieces cost ten times as much.
            values = facet.vocabulary()
            counted = ", ".join(f"COUNT(*) FILTER (WHERE %s = ANY(sampled.{facet.column}))" for _value in values)
            counting.append(f"SELECT %s, unnest(%s::int[])::text, unnest(ARRAY[{counted}]) FROM sampled")
            params += [by, values, *values]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH sampled AS MATERIALIZED ({sql}) SELECT NULL, NULL, COUNT(*) FROM sampled UNION ALL "
            + " UNION ALL ".join(counting),
            params,
        )
        rows = cursor.fetchall()
    matches = next(n for by, _value, n in rows if by is None)
    return matches, _typed_counts(facets, [row for row in rows if row[0] is not None])


TWO_FIGURES_SAMPLE = 50  # sampled entries an estimate rests on at least to be shown to two figures


def about(n, *, sampled=None):
    """An estimate rounded to two significant figures (12,345 → 12,000), so it does not look exact; to one when
    it rests on fewer than ``TWO_FIGURES_SAMPLE`` sampled entries (its error, about 1/√n, is then 15–30 %, and a
    second figure would claim more than it knows; from 50 on, one figure would add more error than it hides:
    2,522 shown as 3,000)."""
    figures = 1 if sampled is not None and sampled < TWO_FIGURES_SAMPLE else 2
    if n < 10**figures:
        return round(n)
    return int(round(n, figures - len(str(round(n)))))


def _matched_facets(criteria, facets):
    """Facets by counting the matching entries' tags: {by: (counts, approximate)}. On PostgreSQL the sample
    table (``CatalogueSample``) is read first: the matches among its first buckets (as many as the planner's
    estimate calls for), counted per value, scaled up and rounded to the precision their number allows. That
    costs one scan of a small table, whatever the filter, not a heap visit per match (docs/library.md).
    When the sample holds fewer than ``FACET_MIN_SAMPLE`` matches, the set is small: it is counted exactly.
    The sample's own count decides, not the planner's, which can be far off (an issuing body, correlated
    keywords). On SQLite every facet is exact."""
    rows = catalogue_rows(criteria)
    if rows.query.is_empty():  # nothing can match (a keyword with no words)
        return {by: ({}, False) for by in facets}
    if connection.vendor == "postgresql":
        expected = _planner_rows(rows.order_by())
        buckets = max(1, min(SAMPLE_TABLE_BUCKETS, math.ceil(SAMPLE_BUCKETS * FACET_SAMPLE_ROWS / max(expected, 1))))
        matches, counts = _sample_counts(criteria, facets=facets, buckets=buckets)
        if buckets < SAMPLE_TABLE_BUCKETS and matches < FACET_SAMPLE_ROWS / 4:  # the planner expected too many
            buckets = SAMPLE_TABLE_BUCKETS
            matches, counts = _sample_counts(criteria, facets=facets, buckets=buckets)
        if matches >= FACET_MIN_SAMPLE:
            scale = SAMPLE_BUCKETS / buckets
            return {by: ({key: about(n * scale, sampled=n) for key, n in counts[by].items()}, True) for by in facets}
    return {by: (counts, False) for by, counts in _count_tags(facets, _entry_ids(criteria)).items()}


def _compute_facets(criteria, facets):
    """The ``facets`` under ``criteria`` (the filter without their own choices, the same for all of them):
    {by: (counts, approximate)}: from the counts table where it can, else by counting matches (together)."""
    done = {}
    for by in facets:
        counted = _counted_facet(criteria, by=by)
        if counted is not None:
            done[by] = (counted, False)
    rest = [by for by in facets if by not in done]
    done |= _matched_facets(criteria, rest) if rest else {}
    if "issuers" in done:  # thousands of names: the most frequent are what the list shows
        counts, approximate = done["issuers"]
        top = sorted(((n, name) for name, n in counts.items() if name), key=lambda item: (-item[0], item[1]))
        done["issuers"] = ({name: n for n, name in top[:ISSUERS_KEPT]}, approximate)
    return done


def library_facets(criteria, *, facets=("provinces", "themes"), version=None):
    """Matching entries per value of each list in ``facets`` (any of ``FACETS``; the library's page asks for all
    six): province: GB/T 2260 code → n, theme: id → n, level and kind: value → n, year → n, issuer: name → n
    (its most frequent ones). Each leaves its own choice out (``facet_criteria``) and is cached per its filter and
    the catalogue version (every reindex bumps it, so a change clears them); ``approximate`` names the lists that
    are estimates. Lists under the same filter (those whose choice is empty) are computed together: one scan of
    the sample serves them all."""
    version = catalogue_version() if version is None else version
    keys = {by: f"library:facet:{version}:{by}:{facet_criteria(criteria, by).cache_key()}" for by in facets}
    found = cache.get_many(list(keys.values()))
    found = {by: found.get(key) for by, key in keys.items()}
    missing = {}
    for by in facets:
        if found[by] is None:
            missing.setdefault(facet_criteria(criteria, by), []).append(by)
    for chosen, group in missing.items():
        computed = _compute_facets(chosen, group)
        for by, value in computed.items():
            found[by] = value
        cache.set_many({keys[by]: value for by, value in computed.items()}, FACET_CACHE_SECONDS)
    result = {by: counts for by, (counts, _approximate) in found.items()}
    result["approximate"] = {by for by, (_counts, approximate) in found.items() if approximate}
    return result


class Province(NamedTuple):
    """A provincial-level division as the library shows it (cheap to cache and read back, unlike a model)."""

    code: int
    name: str
    short_name: str


class ThemeChoice(NamedTuple):
    pk: int
    slug: str
    name: str


VOCABULARY_KEY = "library:vocabulary"
VOCABULARY_SECONDS = 60  # the longest a change the signals below do not see (a bulk load) takes to show


VOCABULARY_LOCAL_SECONDS = 2  # a process reads it from the cache at most this often (a page reads it four times)
_local_vocabulary = {"key": None, "value": None, "until": 0.0}


def vocabulary():
    """What the filter offers, whatever the request: the provinces, the themes and the issues (id, label),
    from the cache (one read instead of three queries; the markup is built from it without form widgets),
    kept in the process for ``VOCABULARY_LOCAL_SECONDS``. A region, theme or issue saved or deleted through
    the ORM clears both (another process sees the change within those seconds)."""
    now, key = time.monotonic(), cache.make_key(VOCABULARY_KEY)  # (the key: each test's cache keys are its own)
    if _local_vocabulary["key"] == key and now < _local_vocabulary["until"]:
        return _local_vocabulary["value"]
    found = cache.get(VOCABULARY_KEY)
    if found is None:
        issues = Issue.objects.select_related("series").order_by("-year", "-month", "series__name")
        found = {
            "provinces": [
                Province(*row) for row in Region.objects.filter(parent=None).values_list("code", "name", "short_name")
            ],
            "themes": [ThemeChoice(*row) for row in Theme.objects.values_list("pk", "slug", "name")],
            "issues": [(issue.pk, str(issue)) for issue in issues],
        }
        cache.set(VOCABULARY_KEY, found, VOCABULARY_SECONDS)
    _local_vocabulary.update(key=key, value=found, until=now + VOCABULARY_LOCAL_SECONDS)
    return found


def _vocabulary_changed(**_kwargs):
    _local_vocabulary["key"] = None
    cache.delete(VOCABULARY_KEY)


for _model in (Region, Theme, Issue):
    post_save.connect(_vocabulary_changed, sender=_model, dispatch_uid=f"library-vocabulary-save-{_model.__name__}")
    post_delete.connect(_vocabulary_changed, sender=_model, dispatch_uid=f"library-vocabulary-del-{_model.__name__}")


def provinces():
    return vocabulary()["provinces"]


def themes():
    return vocabulary()["themes"]


def province_summary(*, code, version=None):
    """A province page: counts by theme, by month (the last 24 months with entries) and by city, cached like
    facets (``version``: the catalogue version when the caller has read it)."""
    key = f"library:province:{catalogue_version() if version is None else version}:{code}"
    summary = cache.get(key)
    if summary is None:
        summary = _province_summary(code)
        cache.set(key, summary, FACET_CACHE_SECONDS)
    return summary


def _province_summary(code):
    """Sums over the counts table: a few hundred rows, whatever the province's size. Cities are the regions
    whose parent is the province (for a municipality, its districts), largest first."""
    rows = CatalogueCount.objects.filter(region_id=code).order_by()
    by_theme = rows.filter(theme__isnull=False).values("theme_id").annotate(n=Sum("entries"))
    by_month = rows.filter(theme=None).values("month").annotate(n=Sum("entries")).order_by("-month")[:24]
    cities = dict(Region.objects.filter(parent_id=code).values_list("code", "short_name"))
    by_city = (
        CatalogueCount.objects.filter(region_id__in=list(cities), theme=None)
        .order_by()
        .values("region_id")
        .annotate(n=Sum("entries"))
    )
    return {
        "by_theme": {row["theme_id"]: row["n"] for row in by_theme},
        "by_month": [(row["month"], row["n"]) for row in by_month],
        "by_city": sorted(
            ((row["region_id"], cities[row["region_id"]], row["n"]) for row in by_city if row["n"]),
            key=lambda item: (-item[2], item[0]),
        ),
    }


def related_entries(entry, *, limit=5):
    """Newest ready entries sharing a region (the most specific tag) or else a theme with ``entry``."""
    region_ids = [region.code for region in entry.regions.all()]
    theme_ids = [theme.pk for theme in entry.themes.all()]
    # One short index walk per tag (an IN list over several would sort every row of a big province).
    found = []
    for region_id in region_ids[:5]:
        found += (
            CatalogueRegion.objects.filter(region_id=region_id)
            .exclude(entry_id=entry.pk)
            .order_by("-published_on", "-entry_id")
            .values_list("published_on", "entry_id")[:limit]
        )
    if len(found) < limit:
        for theme_id in theme_ids[:5]:
            found += (
                CatalogueTheme.objects.filter(theme_id=theme_id)
                .exclude(entry_id=entry.pk)
                .order_by("-published_on", "-entry_id")
                .values_list("published_on", "entry_id")[:limit]
            )
    found = [pk for _day, pk in sorted(found, reverse=True)]
    ids = list(dict.fromkeys(found))[:limit]
    return listed_entries(ids)


def library_entry(pk):
    """A ready entry (one the library lists), with its tags and issues; None otherwise."""
    if not CatalogueRow.objects.filter(entry_id=pk).exists():
        return None
    found = entries_with_tags([pk])
    return found[0] if found else None


def export_batches(criteria, *, limit, batch=1000):
    """The matching entries in batches (keyset paging), at most ``limit``: what an export writes. Each entry
    is a dict of plain values (no model instances: ten times less work per row at 100,000 rows)."""
    after = None
    left = limit
    while left > 0:
        found = rows_slice(criteria, after=after, limit=min(batch, left))
        if not found:
            return
        yield export_values([pk for _, pk in found])
        left -= len(found)
        after = found[-1]
        if len(found) < batch:
            return


def export_values(ids):
    """``ids`` as export dicts, in that order, in four queries; ``regions`` as (code, name) pairs."""
    regions, themes, issues = {}, {}, {}
    for entry_id, code, name in (
        Entry.regions.through.objects.filter(entry_id__in=ids)
        .order_by("region_id")
        .values_list("entry_id", "region_id", "region__name")
    ):
        regions.setdefault(entry_id, []).append((code, name))
    for entry_id, name in (
        Entry.themes.through.objects.filter(entry_id__in=ids)
        .order_by("theme__position", "theme_id")
        .values_list("entry_id", "theme__name")
    ):
        themes.setdefault(entry_id, []).append(name)
    for item in (
        IssueEntry.objects.filter(entry_id__in=ids)
        .select_related("issue__series")
        .order_by("issue__year", "issue__month")
    ):
        issues.setdefault(item.entry_id, []).append(str(item.issue))
    fields = (
        "id",
        "kind",
        "level",
        "title",
        "issuer",
        "doc_number",
        "issued_on",
        "published_on",
        "source_url",
        "summary",
    )
    by_id = {row["id"]: row for row in Entry.objects.filter(pk__in=ids).values(*fields)}
    result = []
    for pk in ids:
        row = by_id.get(pk)
        if row is None:
            continue
        row["regions"], row["themes"], row["issues"] = regions.get(pk, []), themes.get(pk, []), issues.get(pk, [])
        result.append(row)
    return result
