import io

import pytest
from django.core.management import call_command

from policies.models import CatalogueRow, Entry


def snapshot():
    return list(Entry.objects.order_by("id").values_list("title", "kind", "level", "published_on", "summary"))


@pytest.mark.embedded
def test_seed_demo_is_deterministic_and_indexes_what_it_makes(db):
    out = io.StringIO()
    call_command("seed_demo", "--entries", "300", "--seed", "7", "--batch", "100", stdout=out)
    first = snapshot()
    assert len(first) == 300
    assert CatalogueRow.objects.count() == Entry.objects.filter(status="ready").count() > 250
    assert {kind for _t, kind, *_ in first} == {"policy", "practice", "analysis", "briefing"}
    assert len({row[3].year for row in first}) >= 5
    Entry.objects.all().delete()
    call_command("seed_demo", "--entries", "300", "--seed", "7", "--batch", "77", stdout=out)
    assert snapshot() == first


@pytest.mark.embedded
def test_seed_demo_creates_subscribers_through_their_app_when_present(db):
    out = io.StringIO()
    call_command("seed_demo", "--entries", "0", "--subscribers", "3", "--seed", "1", stdout=out)
    try:
        from subscribers.models import Subscriber
    except ImportError:
        assert "no subscribers app" in out.getvalue()
    else:
        assert Subscriber.objects.count() == 3


def test_seed_demo_writes_entries_whose_issuer_level_and_regions_agree(db):
    """A national or ministry policy has no region; a provincial one is issued by a body of its province; a
    municipal policy and a practice are tagged with their city (or county) and its province."""
    from policies.models import Region

    call_command("seed_demo", "--entries", "400", "--seed", "3", stdout=io.StringIO())
    names = dict(Region.objects.values_list("code", "name"))
    short = dict(Region.objects.values_list("code", "short_name"))
    for entry in Entry.objects.prefetch_related("regions"):
        codes = sorted(region.code for region in entry.regions.all())
        provinces = [code for code in codes if code % 10000 == 0]
        local = [code for code in codes if code % 10000]
        if entry.level in ("national", "ministry"):
            assert codes == [], entry.title
        elif entry.kind == "policy" and entry.level == "provincial":
            assert len(codes) == 1 and entry.issuer.startswith(names[codes[0]]), (entry.issuer, codes)
        elif entry.kind == "policy":
            assert len(local) == 1 and entry.issuer.startswith(names[local[0]]), (entry.issuer, codes)
        if entry.kind == "practice" or (entry.kind == "policy" and entry.level == "municipal"):
            assert len(provinces) == 1 and all(code // 10000 * 10000 == provinces[0] for code in local), codes
        if entry.kind == "practice" and local:
            place = short[local[0]]
            assert entry.title.startswith(place) or "高新区" in entry.title, (entry.title, codes)
