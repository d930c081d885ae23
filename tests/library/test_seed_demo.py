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
