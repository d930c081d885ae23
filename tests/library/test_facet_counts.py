"""Facet counts from the counts table (``CatalogueCount``) equal counts made by brute force over the entries,
for many filters and after every kind of change; the table stays what a full rebuild would make."""

import datetime
import itertools
import random
import re
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from library.selectors import Criteria, catalogue_rows, library_count, library_facets
from policies.indexing import (
    SAMPLE_BUCKETS,
    SAMPLE_TABLE_BUCKETS,
    catalogue_counts_refresh,
    entries_delete,
    entries_reindex,
    sample_bucket,
)
from policies.models import CatalogueCount, CatalogueSample, Entry, Level, Region, Status, Theme
from tests.factories import EntryFactory
from tests.library.conftest import indexed

REGIONS = [320000, 330000, 440000, 540000, 320500, 320583]  # 320500 苏州 and 320583 昆山 from ``kunshan``
KINDS = ["policy", "practice", "analysis", "briefing"]
LEVELS = [level.value for level in Level] + [""]
FIRST_DAY = datetime.date(2022, 1, 1)
DAYS = 120  # four months and a bit: several whole months and partial ones
THEMES = ["cross-province", "e-licence", "one-network"]


def _theme_ids():
    return dict(Theme.objects.filter(slug__in=THEMES).values_list("slug", "pk"))


def _random_entry(rng, **fields):
    values = {
        "regions": rng.sample(REGIONS, rng.choice([0, 1, 1, 2])),
        "themes": rng.sample(THEMES, rng.choice([0, 1, 2, 3])),
        "kind": rng.choice(KINDS),
        "level": rng.choice(LEVELS),
        "published_on": FIRST_DAY + datetime.timedelta(days=rng.randrange(DAYS)),
        "status": Status.READY if rng.random() < 0.9 else Status.DRAFT,
    }
    values.update(fields)
    return EntryFactory(**values)


@pytest.fixture
def catalogue(db, kunshan):
    rng = random.Random(7)
    return indexed(*[_random_entry(rng) for _ in range(60)])


def _expanded(code, parents):
    seen = []
    while code is not None:
        seen.append(code)
        code = parents[code]
    return seen


def brute_facets(criteria):
    """Per province and per theme by plain ORM counting over ``Entry``, its regions and themes: each facet
    under the filter without its own choice (provinces ignore the chosen regions, themes the chosen themes)."""
    parents = dict(Region.objects.values_list("code", "parent_id"))
    entries = Entry.objects.filter(status=Status.READY).prefetch_related("regions", "themes")
    if criteria.kinds:
        entries = entries.filter(kind__in=criteria.kinds)
    if criteria.levels:
        entries = entries.filter(level__in=criteria.levels)
    if criteria.date_from:
        entries = entries.filter(published_on__gte=criteria.date_from)
    if criteria.date_to:
        entries = entries.filter(published_on__lte=criteria.date_to)
    provinces, themes = Counter(), Counter()
    for entry in entries:
        regions = {code for region in entry.regions.all() for code in _expanded(region.code, parents)}
        entry_themes = {theme.pk for theme in entry.themes.all()}
        in_regions = not criteria.regions or regions & set(criteria.regions)
        in_themes = not criteria.themes or entry_themes & set(criteria.themes)
        if in_themes:
            provinces.update(code for code in regions if parents[code] is None)
        if in_regions:
            themes.update(entry_themes)
    return {"provinces": dict(provinces), "themes": dict(themes)}


# A catalogue version of each call's own: ``library_facets`` caches per version, and these calls must compute.
_uncached = itertools.count(10**9)


def computed(criteria, facets=("provinces", "themes")):
    """The facets as the library shows them (``library_facets``, computed, not from the cache), each under its
    own filter; exact counts, never estimates, on a catalogue this small."""
    found = library_facets(criteria, facets=facets, version=next(_uncached))
    assert not found["approximate"] & set(facets)
    return {by: found[by] for by in facets}


def test_the_list_count_is_exact_and_summed_from_the_counts_table(catalogue):
    """The page's count under at most one region and one theme (dates with odd days, kinds, levels) is the
    counts table's sum, and equals the matching rows counted one by one."""
    themes = _theme_ids()
    for criteria in [
        Criteria(),
        Criteria(regions=(320000,)),
        Criteria(regions=(320583,), themes=(themes["e-licence"],)),
        Criteria(themes=(themes["one-network"],), kinds=("policy", "practice"), levels=("provincial", "")),
        Criteria(regions=(440000,), date_from=datetime.date(2022, 1, 17), date_to=datetime.date(2022, 3, 9)),
    ]:
        with CaptureQueriesContext(connection) as queries:
            found = library_count(criteria)
        assert found == (catalogue_rows(criteria).count(), False), criteria
        if connection.vendor == "postgresql":  # SQLite counts every list by its rows
            assert any(CatalogueCount._meta.db_table in query["sql"] for query in queries.captured_queries)


@pytest.mark.parametrize("limit", [3, 10_000])
def test_a_large_count_over_several_values_is_estimated_within_exact_bounds(catalogue, monkeypatch, limit):
    """Several regions and themes: when the largest (region, theme) branch alone holds more than an exact count
    would walk, the count is an estimate between that branch and the sum of all branches (an entry in two
    counted twice), both read from the counts table; else it is exact."""
    from library import selectors

    monkeypatch.setattr(selectors, "EXACT_COUNT_LIMIT", limit)
    themes = _theme_ids()
    criteria = Criteria(regions=(320000, 440000), themes=(themes["e-licence"], themes["one-network"]))
    exact = catalogue_rows(criteria).count()
    single = [
        catalogue_rows(Criteria(regions=(region,), themes=(theme,))).count()
        for region in criteria.regions
        for theme in criteria.themes
    ]
    count, approximate = library_count(criteria)
    assert (max(single) > limit) == (limit == 3)  # both paths taken
    if max(single) > limit and connection.vendor == "postgresql":  # SQLite counts every list by its rows
        assert approximate and max(single) <= count <= sum(single)
        assert max(single) <= exact <= sum(single)
    else:
        assert (count, approximate) == (exact, False)
    assert exact > 3


def test_a_keyword_s_estimate_stays_between_the_first_page_and_the_other_filters(catalogue, monkeypatch):
    """Under a keyword, once the other filters leave more rows than an exact count would check, the count is the
    planner's estimate: never more than those other filters leave (exact, from the counts table), never less
    than the first page shows. (PostgreSQL: SQLite counts every list by its rows.)"""
    from library import selectors

    monkeypatch.setattr(selectors, "KEYWORD_EXACT_SCAN", 2)
    criteria = Criteria(regions=(320000,), keyword="政务", tokens=("政务",))
    others = catalogue_rows(Criteria(regions=(320000,))).count()
    exact = catalogue_rows(criteria).count()
    assert exact > 3
    first_page = selectors.library_page(criteria, per_page=2)
    for planner in (10**6, 0):
        monkeypatch.setattr(selectors, "_planner_rows", lambda queryset, planner=planner: planner)
        count, approximate = library_count(criteria, first_page=first_page)
        if connection.vendor == "postgresql":
            assert approximate and count == (others if planner else 3)
        else:
            assert (count, approximate) == (exact, False)
    everything = selectors.library_page(criteria, per_page=exact)
    assert library_count(criteria, first_page=everything) == (exact, False)  # the page holds them all


def reads_counts_table(criteria, by):
    """Whether the library sums the facet ``by`` under this filter from the counts table (CatalogueCount)."""
    with CaptureQueriesContext(connection) as queries:
        computed(criteria, facets=(by,))
    return any(CatalogueCount._meta.db_table in query["sql"] for query in queries.captured_queries)


def count_rows():
    return Counter(
        CatalogueCount.objects.values_list(
            "month",
            "region_id",
            "theme_id",
            "is_province",
            "kind",
            "level",
            "entries",
        )
    )


def assert_counts_table_is_fresh():
    """What the incremental upkeep left equals a full rebuild."""
    kept = count_rows()
    catalogue_counts_refresh()
    assert kept == count_rows()


days = st.one_of(st.none(), st.integers(-40, DAYS + 40).map(lambda n: FIRST_DAY + datetime.timedelta(days=n)))
month_edges = st.sampled_from(
    [datetime.date(2022, m, 1) for m in range(1, 7)]
    + [datetime.date(2022, m + 1, 1) - datetime.timedelta(days=1) for m in range(1, 6)]
)


@st.composite
def criteria(draw):
    theme_ids = draw(st.lists(st.sampled_from(range(len(THEMES))), max_size=2, unique=True))
    return {
        "regions": tuple(draw(st.lists(st.sampled_from(REGIONS), max_size=2, unique=True))),
        "themes": tuple(theme_ids),  # indexes into THEMES, mapped to ids in the test
        "kinds": tuple(draw(st.lists(st.sampled_from(KINDS), max_size=2, unique=True))),
        "levels": tuple(draw(st.lists(st.sampled_from(LEVELS), max_size=2, unique=True))),
        "date_from": draw(st.one_of(days, month_edges)),
        "date_to": draw(st.one_of(days, month_edges)),
    }


@pytest.mark.embedded
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=criteria())
def test_facets_equal_brute_force_counts(catalogue, fields):
    ids = _theme_ids()
    chosen = Criteria(**{**fields, "themes": tuple(ids[THEMES[i]] for i in fields["themes"])})
    expected = brute_facets(chosen)
    assert computed(chosen) == expected
    for by in ("provinces", "themes"):  # each alone: the path of one facet does not depend on the other's
        assert computed(chosen, facets=(by,)) == {by: expected[by]}


@pytest.mark.embedded
def test_which_filters_use_the_counts_table(db):
    theme, other = 1, 2
    uses = {
        Criteria(): ("provinces", "themes"),
        Criteria(themes=(theme,), kinds=("policy",), date_from=datetime.date(2022, 1, 9)): ("provinces", "themes"),
        Criteria(regions=(320000,), levels=("county",), date_to=datetime.date(2022, 3, 9)): ("provinces", "themes"),
        Criteria(regions=(320583,), date_to=datetime.date(2022, 3, 9)): ("provinces", "themes"),
        Criteria(regions=(320000,), themes=(theme,)): ("provinces", "themes"),
        Criteria(regions=(320000, 330000), themes=(theme,)): ("provinces",),
        Criteria(themes=(theme, other)): ("themes",),
        Criteria(regions=(320000, 330000), themes=(theme, other)): (),
        Criteria(keyword="证照", tokens=("证照",)): (),
        Criteria(issuer="江苏"): (),
    }
    for chosen, facets in uses.items():
        tabled = {by for by in ("provinces", "themes") if reads_counts_table(chosen, by)}
        assert tabled == set(facets), chosen


@pytest.mark.embedded
def test_date_filters_count_whole_months_from_the_table_and_odd_days_from_the_index(catalogue):
    """A date filter is summed over its whole months from the counts table and its odd days at either end from the
    index tables: exact at every edge (whole months, odd days at both ends, no whole month between, open ends,
    a reversed range, the last representable days)."""
    d = datetime.date
    ranges = [
        (None, None),
        (d(2022, 1, 1), d(2022, 3, 31)),
        (d(2022, 1, 15), d(2022, 3, 10)),
        (d(2022, 1, 15), d(2022, 2, 10)),
        (d(2022, 2, 1), None),
        (None, d(2022, 2, 27)),
        (d(2022, 5, 1), d(2022, 3, 1)),
        (d(2022, 1, 1), datetime.date.max),
        (d(9999, 12, 5), None),
    ]
    for date_from, date_to in ranges:
        chosen = Criteria(date_from=date_from, date_to=date_to)
        assert computed(chosen) == brute_facets(chosen), (date_from, date_to)
    assert reads_counts_table(Criteria(date_from=d(2022, 1, 15), date_to=d(2022, 3, 10)), "provinces")


@pytest.mark.embedded
def test_the_counts_follow_creating_editing_retagging_unreadying_and_deleting(catalogue):
    rng = random.Random(11)
    ids = _theme_ids()
    probes = [
        Criteria(),
        Criteria(themes=(ids["e-licence"],)),
        Criteria(regions=(320000,), date_from=datetime.date(2022, 2, 10)),
        Criteria(kinds=("policy",), date_from=datetime.date(2022, 2, 1), date_to=datetime.date(2022, 3, 31)),
    ]

    def check():
        assert_counts_table_is_fresh()
        for chosen in probes:
            assert computed(chosen) == brute_facets(chosen)

    created = indexed(*[_random_entry(rng, status=Status.READY) for _ in range(5)])
    check()
    edited = created[0]
    edited.published_on = datetime.date(2022, 4, 20)  # another month
    edited.kind = "briefing"
    edited.save()
    entries_reindex(entry_ids=[edited.pk])
    check()
    retagged = created[1]
    retagged.regions.set(Region.objects.filter(code__in=[320583, 540000]))
    retagged.themes.set(Theme.objects.filter(slug="one-network"))
    entries_reindex(entry_ids=[retagged.pk])
    check()
    Entry.objects.filter(pk=created[2].pk).update(status=Status.DRAFT)
    entries_reindex(entry_ids=[created[2].pk])
    check()
    assert entries_delete(entry_ids=[created[3].pk, catalogue[0].pk]) >= 2
    check()


@pytest.mark.embedded
def test_the_admin_deletes_entries_through_the_service(catalogue, admin_client):
    entry = next(entry for entry in catalogue if entry.status == Status.READY)
    before = computed(Criteria())
    response = admin_client.post(reverse("admin:policies_entry_delete", args=[entry.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Entry.objects.filter(pk=entry.pk).exists()
    assert computed(Criteria()) == brute_facets(Criteria()) != before
    assert_counts_table_is_fresh()


@pytest.mark.embedded
def test_the_facets_request_makes_a_fixed_number_of_queries(
    sales_client, catalogue, django_assert_num_queries, signed_in_queries
):
    """With the filter vocabulary cached (a first request): ``signed_in_queries``, the catalogue version; per
    facet the counts table and the odd days before the first whole month (2 each for provinces, levels, themes
    and kinds; 1 for years), and the issuing bodies counted from the matching entries (3)."""
    indexed(
        EntryFactory(kind="policy", themes=["e-licence"], regions=[320000], published_on=datetime.date(2022, 1, 20))
    )
    params = {"theme": "e-licence", "kind": "policy", "date_from": "2022-01-09"}
    sales_client.get(reverse("library:facets"), {"kind": "policy"})  # the vocabulary, cached for every request
    # PostgreSQL asks the planner how many rows match before choosing how to count (more queries than SQLite).
    with django_assert_num_queries(signed_in_queries + (13 if connection.vendor == "postgresql" else 11)):
        response = sales_client.get(reverse("library:facets"), params)
    assert response.status_code == 200


def sample_rows():
    return {
        (
            row.entry_id,
            row.published_on,
            row.kind,
            row.level,
            row.sample,
            *map(tuple, (row.regions, row.provinces, row.themes)),
            row.issuer,
        )
        for row in CatalogueSample.objects.all()
    }


def expected_sample_rows():
    """The sample table as it should be, from the entries: ready ones of the first sample buckets."""
    parents = dict(Region.objects.values_list("code", "parent_id"))
    expected = set()
    for entry in Entry.objects.filter(status=Status.READY).prefetch_related("regions", "themes"):
        if sample_bucket(entry.pk) >= SAMPLE_TABLE_BUCKETS:
            continue
        regions = sorted({code for region in entry.regions.all() for code in _expanded(region.code, parents)})
        provinces = tuple(code for code in regions if parents[code] is None)
        themes = tuple(sorted(theme.pk for theme in entry.themes.all()))
        bucket = sample_bucket(entry.pk)
        expected.add(
            (
                entry.pk,
                entry.published_on,
                entry.kind,
                entry.level,
                bucket,
                tuple(regions),
                provinces,
                themes,
                entry.issuer,
            )
        )
    return expected


def test_the_sample_table_follows_every_change(catalogue):
    rng = random.Random(5)
    more = indexed(*[_random_entry(rng, status=Status.READY) for _ in range(150)])
    assert len(sample_rows()) > 10
    assert sample_rows() == expected_sample_rows()
    sampled = [entry for entry in more if sample_bucket(entry.pk) < SAMPLE_TABLE_BUCKETS]
    sampled[0].regions.set(Region.objects.filter(code__in=[320583]))
    Entry.objects.filter(pk=sampled[1].pk).update(status=Status.DRAFT)
    entries_reindex(entry_ids=[sampled[0].pk, sampled[1].pk])
    entries_delete(entry_ids=[sampled[2].pk])
    assert sample_rows() == expected_sample_rows()
    assert any(row[0] == sampled[0].pk and row[5] == (320000, 320500, 320583) for row in sample_rows())


def test_broad_facets_are_estimated_from_the_sample_table(catalogue, monkeypatch):
    """Where the planner expects more matches than a facet counts exactly, it counts the matches in the sample
    table and scales up: here all the table's buckets, so 64/6 times the sampled count, marked as an
    estimate. (PostgreSQL only: SQLite always counts exactly.)"""
    from library import selectors

    rng = random.Random(3)
    indexed(*[_random_entry(rng, status=Status.READY) for _ in range(150)])
    monkeypatch.setattr(selectors, "_planner_rows", lambda queryset: 2)  # expects few: the whole sample table
    theme = _theme_ids()["e-licence"]
    # a sample of fewer than FACET_MIN_SAMPLE matches: counted exactly instead, every list in one query
    both = selectors._matched_facets(Criteria(themes=(theme,)), ["provinces", "themes", "levels", "kinds"])
    assert not any(approximate for _counts, approximate in both.values())
    expected = brute_facets(Criteria(themes=(theme,)))
    assert both["provinces"][0] == expected["provinces"]
    in_theme = Entry.objects.filter(status=Status.READY, themes=theme)
    themes_in_theme = Counter(
        pk for entry in in_theme.prefetch_related("themes") for pk in {t.pk for t in entry.themes.all()}
    )
    assert both["themes"][0] == dict(themes_in_theme)
    assert both["levels"][0] == dict(Counter(in_theme.values_list("level", flat=True)))
    assert both["kinds"][0] == dict(Counter(in_theme.values_list("kind", flat=True)))
    monkeypatch.setattr(selectors, "FACET_MIN_SAMPLE", 1)
    parents = dict(Region.objects.values_list("code", "parent_id"))
    sampled, sampled_themes = Counter(), Counter()
    for entry in in_theme.prefetch_related("regions", "themes"):
        if sample_bucket(entry.pk) < SAMPLE_TABLE_BUCKETS:
            sampled.update({code for r in entry.regions.all() for code in _expanded(r.code, parents)})
            sampled_themes.update({t.pk for t in entry.themes.all()})
    assert sum(sampled.values()) > 3
    both = selectors._matched_facets(Criteria(themes=(theme,)), ["provinces", "themes"])
    assert all(approximate for _counts, approximate in both.values())
    scale = SAMPLE_BUCKETS / SAMPLE_TABLE_BUCKETS
    assert both["provinces"][0] == {
        code: selectors.about(n * scale, sampled=n) for code, n in sampled.items() if parents[code] is None
    }
    assert both["themes"][0] == {pk: selectors.about(n * scale, sampled=n) for pk, n in sampled_themes.items()}
    # a keyword is matched in the sample table as in the catalogue: 政务 is in almost every summary
    keyword = Criteria(keyword="政务", tokens=("政务",))
    both = selectors._matched_facets(keyword, ["provinces", "themes"])
    assert all(approximate and counts for counts, approximate in both.values())
    assert both["themes"] == selectors._matched_facets(keyword, ["themes"])["themes"]


def test_the_sample_table_is_read_one_partition_per_bucket(db):
    """Migration 0017 splits the sample table by bucket: every bucket it holds has its partition (a row of a
    bucket without one could not be written), and reading the first buckets reads only theirs."""
    table = CatalogueSample._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s ORDER BY 1",
            [table],
        )
        assert [name for (name,) in cursor.fetchall()] == [f"{table}_{n}" for n in range(SAMPLE_TABLE_BUCKETS)]
    plan = CatalogueSample.objects.filter(sample__lt=2).explain()
    assert set(re.findall(rf" on {table}_(\d+) ", plan)) == {"0", "1"}


@pytest.mark.embedded
def test_the_sample_buckets_are_even():
    sizes = Counter(sample_bucket(pk) for pk in range(1, 64001))
    assert set(sizes) == set(range(SAMPLE_BUCKETS))
    assert all(900 < n < 1100 for n in sizes.values())


def test_migration_0006_computes_the_buckets_as_python_does(db):
    """It fills the sample table of an existing catalogue on PostgreSQL with this expression."""
    from django.db import connection

    ids = [1, 2, 63, 64, 65, 1000, 123456, 999999, 2**31 - 1]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(["mod(%s * 2654435761, 4294967296) >> 26"] * len(ids)), ids)
        assert list(cursor.fetchone()) == [sample_bucket(pk) for pk in ids]


@pytest.mark.embedded
@pytest.mark.parametrize("others", [5, 40])
def test_reindexing_an_edited_entry_makes_the_same_queries_whatever_the_catalogue(
    db, kunshan, others, django_assert_num_queries
):
    """Version bump, its contributions before, five deletes, the entry, its regions and themes, the index rows
    (PostgreSQL: temp table, COPY, two INSERT … SELECT, clear, three COPYs; SQLite: bulk inserts), its
    contributions after, the counts rows concerned, the new rows and the emptied ones (the entry moves from a
    month of its own to another): 21 queries on either database, whatever the catalogue's size. The counts
    table changes by a delta, not by recounting months."""
    rng = random.Random(others)
    indexed(*[_random_entry(rng, status=Status.READY) for _ in range(others)])
    alone = datetime.date(2029, 6, 15)
    entry = indexed(_random_entry(rng, status=Status.READY, regions=[320583], themes=["e-licence"], published_on=alone))
    Entry.objects.filter(pk=entry.pk).update(published_on=datetime.date(2030, 1, 15))
    with django_assert_num_queries(21):
        entries_reindex(entry_ids=[entry.pk])
    assert_counts_table_is_fresh()
    assert set(CatalogueCount.objects.filter(month__gte=alone.replace(day=1)).values_list("month", flat=True)) == {
        datetime.date(2030, 1, 1)
    }


@pytest.mark.embedded
def test_estimates_are_rounded_to_two_figures_so_they_do_not_look_exact():
    from library.selectors import about

    assert [about(n) for n in (5, 42.4, 99.6, 987, 12345, 163341, 1_049_999)] == [
        5,
        42,
        100,
        990,
        12000,
        160000,
        1_000_000,
    ]
    # resting on fewer than 50 sampled entries: one figure
    assert [about(n, sampled=s) for n, s in ((12345, 49), (12345, 50), (8.5, 1), (187, 18))] == [10000, 12000, 8, 200]
