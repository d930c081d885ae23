"""Data files the catalogue ships with. ``gbt2260.csv``: the GB/T 2260 divisions (scripts/generate_gbt2260.py
makes it; migration 0009 loads it; README says where it comes from)."""

import csv
from functools import lru_cache
from pathlib import Path

GBT2260 = Path(__file__).with_name("gbt2260.csv")


@lru_cache(maxsize=1)
def gbt2260_rows():
    """The table's rows as dicts (code, name, short_name, kind, parent, initials, aliases), parents first."""
    with GBT2260.open(encoding="utf-8") as handle:
        return tuple(csv.DictReader(handle))


@lru_cache(maxsize=1)
def gbt2260_codes():
    return frozenset(int(row["code"]) for row in gbt2260_rows())


def load_gbt2260(region_model):
    """Create the divisions that are missing (where a test has flushed the tables); never change stored ones."""
    region_model.objects.bulk_create(
        [
            region_model(
                code=int(row["code"]),
                name=row["name"],
                short_name=row["short_name"],
                kind=row["kind"],
                parent_id=int(row["parent"]) if row["parent"] else None,
                aliases=row["aliases"],
                initials=row["initials"],
            )
            for row in gbt2260_rows()
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
