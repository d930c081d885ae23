import pytest

from policies.indexing import entries_reindex
from policies.models import Region, RegionKind


def indexed(*entries):
    """Entries built with factories, brought into the library's index tables (as every write path does)."""
    entries_reindex(entry_ids=[entry.pk for entry in entries])
    return entries[0] if len(entries) == 1 else entries


@pytest.fixture
def kunshan(db):
    """A county-level city below 苏州 below 江苏 (from the GB/T 2260 vocabulary when it is loaded)."""
    suzhou, _created = Region.objects.get_or_create(
        code=320500, defaults={"name": "苏州市", "short_name": "苏州", "kind": RegionKind.CITY, "parent_id": 320000}
    )
    kunshan, _created = Region.objects.get_or_create(
        code=320583, defaults={"name": "昆山市", "short_name": "昆山", "kind": RegionKind.COUNTY, "parent": suzhou}
    )
    return kunshan
