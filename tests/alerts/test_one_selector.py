"""One selector, no drift: for many generated saved filters and windows, an alert lists exactly what the
library page shows for that filter, restricted to the entries that became ready in the window, in the page's
order."""

import datetime
import random
from dataclasses import replace
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.selectors import window_entry_ids
from library.filters import LibraryFilter
from library.models import SavedFilter
from library.selectors import library_page
from policies.models import Entry, Level, Status
from tests.factories import EntryFactory, UserFactory
from tests.library.conftest import indexed

REGIONS = [320000, 330000, 440000, 320500]  # 320500 苏州, a city: it is filed under 江苏 too
THEMES = ["cross-province", "e-licence", "one-network"]
KINDS = ["policy", "practice", "analysis", "briefing"]
LEVELS = [level.value for level in Level]
WORDS = ["跨省通办", "证照", "政务服务", "数据"]
TITLES = ["关于推进政务服务跨省通办的通知", "电子证照互通互认实施方案", "数据共享管理办法", "一网通办改进意见"]
ISSUERS = ["江苏省人民政府办公厅", "浙江省大数据发展管理局", "国务院办公厅"]
NOW = timezone.now()
HOURS = 72


@pytest.fixture
def catalogue(db):
    """60 entries with varied tags, dates and ready times (some back-dated, some still drafts)."""
    rng = random.Random(13)
    entries = []
    for _ in range(60):
        entries.append(
            EntryFactory(
                regions=rng.sample(REGIONS, rng.choice([0, 1, 1, 2])),
                themes=rng.sample(THEMES, rng.choice([0, 1, 2])),
                kind=rng.choice(KINDS),
                level=rng.choice(LEVELS),
                title=rng.choice(TITLES) + str(rng.randrange(1000)),
                issuer=rng.choice(ISSUERS),
                published_on=datetime.date(2015, 1, 1) + datetime.timedelta(days=rng.randrange(4000)),
                status=Status.READY if rng.random() < 0.9 else Status.DRAFT,
            )
        )
    indexed(*entries)
    for entry in entries:
        if entry.status == Status.READY:
            ready_at = NOW - datetime.timedelta(minutes=rng.randrange(HOURS * 60))
            Entry.objects.filter(pk=entry.pk).update(ready_at=ready_at)
    return entries


def query_strings():
    pairs = st.lists(
        st.one_of(
            st.tuples(st.just("region"), st.sampled_from([str(code) for code in REGIONS])),
            st.tuples(st.just("theme"), st.sampled_from(THEMES)),
            st.tuples(st.just("kind"), st.sampled_from(KINDS)),
            st.tuples(st.just("level"), st.sampled_from(LEVELS)),
            st.tuples(st.just("q"), st.sampled_from(WORDS)),
            st.tuples(st.just("issuer"), st.sampled_from(["江苏", "浙江", "国务院"])),
            st.tuples(st.just("date_from"), st.sampled_from(["2016-01-01", "2020-06-15"])),
            st.tuples(st.just("date_to"), st.sampled_from(["2019-12-31", "2024-01-01"])),
            st.tuples(st.just("sort"), st.sampled_from(["newest", "relevance"])),
        ),
        max_size=5,
    )
    return pairs.map(urlencode)


def page_in_window(query, after, until):
    """What the library page shows for ``query`` (every page of it, newest first), restricted to ``ready_at``
    in ``(after, until]``."""
    criteria = LibraryFilter(QueryDict(query)).criteria()
    shown = [entry.pk for entry in library_page(replace(criteria, sort="newest"), per_page=1000).entries]
    if criteria.by_relevance:  # the page ranks the same entries; the alert lists them newest first
        assert {entry.pk for entry in library_page(criteria, per_page=1000).entries} == set(shown)
    ready = dict(Entry.objects.filter(pk__in=shown).values_list("pk", "ready_at"))
    return [pk for pk in shown if after < ready[pk] <= until]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=query_strings(), start=st.integers(0, HOURS * 60), length=st.integers(1, HOURS * 60))
def test_an_alert_lists_what_the_page_shows_within_its_window(catalogue, query, start, length):
    owner = UserFactory.build(pk=None)
    saved = SavedFilter(user=owner, name="x", query=query)
    after = NOW - datetime.timedelta(minutes=start + length)
    until = NOW - datetime.timedelta(minutes=start)
    assert window_entry_ids(saved, after=after, until=until) == page_in_window(query, after, until)


def test_the_comparison_can_fail(catalogue):
    """The property is not vacuous: a wide window over the whole catalogue lists many entries."""
    saved = SavedFilter(user=UserFactory(), name="x", query="")
    everything = window_entry_ids(saved, after=NOW - datetime.timedelta(days=30), until=NOW)
    assert len(everything) == len([e for e in catalogue if e.status == Status.READY]) > 40
    assert window_entry_ids(saved, after=NOW - datetime.timedelta(hours=1), until=NOW) != everything
