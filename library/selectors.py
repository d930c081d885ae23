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
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import NamedTuple

from django.contrib.postgres.search import SearchQuery
from django.core.cache import cache
from django.db import connection
from django.db.models import Case, Count, ExpressionWrapper, IntegerField, Prefetch, Q, Sum, Value, When
from django.db.models.functions import Length, Replace

from issues.models import IssueEntry
from policies.indexing import SAMPLE_BUCKETS, SAMPLE_TABLE_BUCKETS, catalogue_version
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
)

PER_PAGE = 20
MAX_PAGE = 500  # deeper than this, the "next" links (keyset) go on; a page number would mean a deep OFFSET
EXACT_COUNT_LIMIT = 5000  # above the planner's estimate of this, a count is shown as 约 N 条
KEYWORD_EXACT_SCAN = 1000  # with a keyword, an exact count when the other filters leave at most this many rows
RELEVANCE_WINDOW = 1000  # relevance ranks the newest matches, so it stays fast under a broad keyword
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


def _search_query(criteria):
    return SearchQuery(" ".join(criteria.tokens), search_type="plain", config="simple")


def _keyword_filter(queryset, criteria, *, on_row_table):
    if not criteria.tokens:
        return queryset.none()
    if connection.vendor == "postgresql":
        match = CatalogueRow.objects.filter(vector=_search_query(criteria))
        if on_row_table:
            return queryset.filter(vector=_search_query(criteria))
        return queryset.filter(entry_id__in=match.values("entry_id"))
    # SQLite: plain containment of each term in the title, issuing body or summary.
    for term in criteria.keyword.split():
        queryset = queryset.filter(
            Q(entry__title__contains=term) | Q(entry__issuer__contains=term) | Q(entry__summary__contains=term)
        )
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
    return rows


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
    """The entries of ``ids``, in that order, with their regions, themes and issues: a fixed number of
    queries whatever the number of ids."""
    issue_items = IssueEntry.objects.select_related("issue__series").order_by("issue__year", "issue__month")
    entries = Entry.objects.filter(pk__in=ids).prefetch_related(
        "regions", "themes", Prefetch("issue_items", queryset=issue_items)
    )
    by_id = {entry.pk: entry for entry in entries}
    return [by_id[pk] for pk in ids if pk in by_id]


def parse_after(value):
    """A keyset cursor ``2022-08-01.123`` → (date, id); None when malformed."""
    try:
        day, pk = value.split(".", 1)
        day, pk = datetime.date.fromisoformat(day), int(pk)
    except (ValueError, AttributeError):
        return None
    return (day, pk) if 0 < pk < 2**63 else None


def library_page(criteria, *, page=1, after=None, per_page=PER_PAGE):
    """One page of results: by keyset cursor (``after``) when given, else by page number (up to
    ``MAX_PAGE``); under ``sort=relevance`` the newest ``RELEVANCE_WINDOW`` matches ranked by relevance."""
    if criteria.by_relevance:
        window = [pk for _day, pk in rows_slice(criteria, limit=RELEVANCE_WINDOW)]
        ranked = (
            Entry.objects.filter(pk__in=window)
            .annotate(rank=_relevance(criteria))
            .order_by("-rank", "-published_on", "-id")
            .values_list("id", flat=True)
        )
        start = (page - 1) * per_page
        found = list(ranked[start : start + per_page + 1])
        return LibraryPage(
            entries=entries_with_tags(found[:per_page]),
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
        entries=entries_with_tags([pk for _, pk in found]), number=number, has_next=has_next, next_after=next_after
    )


def _occurrences(field, token):
    return (Length(field) - Length(Replace(field, Value(token), Value("")))) / len(token)


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


def library_count(criteria):
    """``(count, approximate)``: exact when small, else the planner's estimate rounded to two figures (shown
    as 约 N 条): an exact count under a broad keyword costs a heap visit per match (docs/library.md)."""
    rows = catalogue_rows(criteria)
    if connection.vendor != "postgresql" or rows.query.is_empty():
        return rows.count(), False
    unfiltered = criteria == Criteria(sort=criteria.sort)
    duplicates = len(criteria.regions) > 1 or len(criteria.themes) > 1
    if not (criteria.keyword or unfiltered or duplicates):
        # One walk of one index (a province, a theme, a pair, with dates, kind and level): exact and cheap.
        # Unfiltered, a keyword, or several values: a count capped at EXACT_COUNT_LIMIT, then the estimate.
        return rows.count(), False
    estimate = _planner_rows(rows.order_by())
    if criteria.keyword and estimate > EXACT_COUNT_LIMIT:
        # Counting matches costs a heap visit (the vector) per row the other filters leave: when the planner
        # expects many, count exactly only if those rows are few (counted, not estimated: the planner's
        # figures for a small or churned table can be far off), else show its estimate.
        others = rows_slice(replace(criteria, keyword="", tokens=()), limit=KEYWORD_EXACT_SCAN + 1)
        if len(others) > KEYWORD_EXACT_SCAN:
            return about(estimate), True
    exact = len(rows_slice(criteria, limit=EXACT_COUNT_LIMIT + 1))
    if exact > EXACT_COUNT_LIMIT:
        return about(max(estimate, exact)), True
    return exact, False


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


def _sum_counts(criteria, months, column, **match):
    """Entries per ``column`` (region or theme) summed from ``CatalogueCount`` over the whole months."""
    rows = CatalogueCount.objects.filter(**match)
    if criteria.kinds:
        rows = rows.filter(kind__in=criteria.kinds)
    if criteria.levels:
        rows = rows.filter(level__in=criteria.levels)
    first, end = months
    if first is not None:
        rows = rows.filter(month__gte=first)
    if end is not None:
        rows = rows.filter(month__lt=end)
    counted = rows.order_by().values(column).annotate(n=Sum("entries"))
    return {row[column]: row["n"] for row in counted if row["n"]}


def _days_ids(criteria, days):
    """The matching entry ids published within the day ranges ``days`` (a month or two of rows at most)."""
    rows, _duplicates = _driver(criteria)
    rows = _filtered(replace(criteria, date_from=None, date_to=None), rows)
    within = Q()
    for first, last in days:
        within |= Q(published_on__gte=first, published_on__lte=last)
    return rows.filter(within).values("entry_id").order_by()


class Facet(NamedTuple):
    chosen: str  # the criteria field the facet leaves out
    tags: type  # the tag table it counts
    provinces_only: bool  # only its rows of provinces
    column: str  # by which column


FACETS = {
    "provinces": Facet("regions", CatalogueRegion, True, "region_id"),
    "themes": Facet("themes", CatalogueTheme, False, "theme_id"),
}


def facet_criteria(criteria, by):
    """What a facet counts under: the filter without its own choice. The count beside a province is the number
    of entries that match everything else and are filed under that province, which is what its link (the
    filter with that province instead of the chosen ones) shows; the same for themes."""
    return replace(criteria, **{FACETS[by].chosen: ()}, sort="newest")


def _counted_facet(criteria, *, by):
    """A facet (``by`` "provinces" or "themes") as exact sums over the counts table, with the odd days at
    either end of the date filter counted from the index tables; None when the table cannot give it: under a
    keyword, issuer or issue, or, for provinces, under several themes (an entry with two of them would count
    twice; likewise several regions for themes). ``criteria`` is already without the facet's own choice."""
    if criteria.keyword or criteria.issuer or criteria.issue_id:
        return None
    column = FACETS[by].column
    if by == "provinces":
        if len(criteria.themes) > 1:
            return None
        match = {"region__isnull": False, "is_province": True, "theme": criteria.themes[0] if criteria.themes else None}
    else:
        if len(criteria.regions) > 1:
            return None
        match = {"theme__isnull": False, "region": criteria.regions[0] if criteria.regions else None}
    months, days = _month_split(criteria.date_from, criteria.date_to)
    counts = _sum_counts(criteria, months, column, **match) if months else {}
    if days:
        counts = dict(Counter(counts) + Counter(_count_tags(by, _days_ids(criteria, days))))
    return counts


def _count_tags(by, ids):
    """The facet's values among the tags of the entries ``ids`` (a query of entry ids). On PostgreSQL the ids
    are materialised first, so the planner probes the tag table by entry instead of scanning it whole."""
    facet = FACETS[by]
    if ids.query.is_empty():  # nothing can match (a keyword with no words)
        return {}
    if connection.vendor != "postgresql":
        tags = facet.tags.objects.filter(entry_id__in=ids)
        if facet.provinces_only:
            tags = tags.filter(is_province=True)
        return dict(tags.order_by().values_list(facet.column).annotate(n=Count("entry_id")))
    sql, params = ids.query.sql_with_params()
    province = " AND t.is_province" if facet.provinces_only else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH ids AS MATERIALIZED ({sql}) SELECT t.{facet.column}, COUNT(*) FROM ids "
            f"JOIN {facet.tags._meta.db_table} t ON t.entry_id = ids.entry_id{province} GROUP BY 1",
            params,
        )
        return dict(cursor.fetchall())


FACET_SAMPLE_ROWS = 8000  # the sample buckets read are chosen for about this many sampled matches
FACET_MIN_SAMPLE = 200  # fewer sampled matches than this (a set of under ~2,000): count them all instead


def _sample_counts(criteria, *, facets, buckets):
    """``(matches, {by: counts})``: how many sampled entries of the buckets below ``buckets`` match
    (``CatalogueSample``: one compact row per entry, its tags as arrays), and the ``facets`` counted over them,
    all in one scan of that small table."""
    rows = CatalogueSample.objects.filter(sample__lt=buckets)
    rows = _filtered(replace(criteria, regions=(), themes=()), rows)
    if criteria.regions:
        rows = rows.filter(regions__overlap=list(criteria.regions))
    if criteria.themes:
        rows = rows.filter(themes__overlap=list(criteria.themes))
    sql, params = rows.order_by().values(*facets).query.sql_with_params()  # the arrays are named as the facets
    counting = [
        f"SELECT %s, value, COUNT(*) FROM sampled, unnest(sampled.{by}) value GROUP BY 1, 2"
        for by in facets  # "provinces" and "themes" are the arrays' names too
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH sampled AS MATERIALIZED ({sql}) SELECT NULL, NULL, COUNT(*) FROM sampled UNION ALL "
            + " UNION ALL ".join(counting),
            [*params, *facets],
        )
        rows = cursor.fetchall()
    matches, counts = 0, {by: {} for by in facets}
    for by, value, n in rows:
        if by is None:
            matches = n
        else:
            counts[by][value] = n
    return matches, counts


def about(n, *, sampled=None):
    """An estimate rounded to two significant figures (12,345 → 12,000), so it does not look exact; to one when
    it rests on fewer than 100 sampled entries (its error is then some 10–30 %)."""
    figures = 1 if sampled is not None and sampled < 100 else 2
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
    return {by: (_count_tags(by, _entry_ids(criteria)), False) for by in facets}


def _compute_facets(criteria, facets):
    """The ``facets`` under ``criteria`` (the filter without their own choices, the same for all of them):
    {by: (counts, approximate)}: from the counts table where it can, else by counting matches (together)."""
    done = {}
    for by in facets:
        counted = _counted_facet(criteria, by=by)
        if counted is not None:
            done[by] = (counted, False)
    rest = [by for by in facets if by not in done]
    return done | (_matched_facets(criteria, rest) if rest else {})


def library_facets(criteria):
    """Matching entries per province and per theme (GB/T 2260 code → n, theme id → n), each facet leaving its
    own choice out (``facet_criteria``) and cached per its filter and the catalogue version (every reindex
    bumps it, so a change clears them); ``approximate`` names the facets that are estimates. Facets under the
    same filter (no region or theme chosen) are computed together: one scan of the sample serves both."""
    version = catalogue_version()
    keys = {by: f"library:facet:{version}:{by}:{facet_criteria(criteria, by).cache_key()}" for by in FACETS}
    found = {by: cache.get(key) for by, key in keys.items()}
    missing = {}
    for by in FACETS:
        if found[by] is None:
            missing.setdefault(facet_criteria(criteria, by), []).append(by)
    for chosen, facets in missing.items():
        for by, computed in _compute_facets(chosen, facets).items():
            found[by] = computed
            cache.set(keys[by], computed, FACET_CACHE_SECONDS)
    facets = {by: counts for by, (counts, _approximate) in found.items()}
    facets["approximate"] = {by for by, (_counts, approximate) in found.items() if approximate}
    return facets


def provinces():
    return list(Region.objects.filter(parent=None).order_by("code"))


def themes():
    return list(Theme.objects.all())


def province_summary(*, code):
    """A province page: counts by theme and by month (the last 24 months with entries), cached like facets."""
    key = f"library:province:{catalogue_version()}:{code}"
    summary = cache.get(key)
    if summary is None:
        summary = _province_summary(code)
        cache.set(key, summary, FACET_CACHE_SECONDS)
    return summary


def _province_summary(code):
    """Sums over the counts table: a few hundred rows, whatever the province's size."""
    rows = CatalogueCount.objects.filter(region_id=code).order_by()
    by_theme = rows.filter(theme__isnull=False).values("theme_id").annotate(n=Sum("entries"))
    by_month = rows.filter(theme=None).values("month").annotate(n=Sum("entries")).order_by("-month")[:24]
    return {
        "by_theme": {row["theme_id"]: row["n"] for row in by_theme},
        "by_month": [(row["month"], row["n"]) for row in by_month],
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
    return entries_with_tags(ids)


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
    """``ids`` as export dicts, in that order, in four queries."""
    regions, themes, issues = {}, {}, {}
    for entry_id, name in (
        Entry.regions.through.objects.filter(entry_id__in=ids)
        .order_by("region_id")
        .values_list("entry_id", "region__short_name")
    ):
        regions.setdefault(entry_id, []).append(name)
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
    fields = ("id", "kind", "level", "title", "issuer", "published_on", "source_url", "summary")
    by_id = {row["id"]: row for row in Entry.objects.filter(pk__in=ids).values(*fields)}
    result = []
    for pk in ids:
        row = by_id.get(pk)
        if row is None:
            continue
        row["regions"], row["themes"], row["issues"] = regions.get(pk, []), themes.get(pk, []), issues.get(pk, [])
        result.append(row)
    return result
