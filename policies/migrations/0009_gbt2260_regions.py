"""The whole of GB/T 2260: provinces, prefecture-level and county-level divisions, with aliases and pinyin
initials, read from the vendored policies/data/gbt2260.csv (scripts/generate_gbt2260.py makes it).

A data migration of its own: it reads the file and writes through the historical model, calling no
application code, so what it does stays what it did when it was written.
"""

import csv
from pathlib import Path

from django.db import migrations, models

TABLE = Path(__file__).resolve().parents[1] / "data" / "gbt2260.csv"


def read_table():
    with TABLE.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def load(apps, schema_editor):
    """Add what is missing; give a region staff added under a GB/T 2260 code its standard name and place; keep
    an administrator's names of the provinces, only filling their aliases and initials."""
    Region = apps.get_model("policies", "Region")
    stored = Region.objects.in_bulk()
    new, changed = [], []
    for row in read_table():  # provinces, then cities, then counties: a parent always comes first
        code = int(row["code"])
        values = {
            "name": row["name"],
            "short_name": row["short_name"],
            "kind": row["kind"],
            "parent_id": int(row["parent"]) if row["parent"] else None,
            "aliases": row["aliases"],
            "initials": row["initials"],
        }
        region = stored.get(code)
        if region is None:
            new.append(Region(code=code, **values))
            continue
        if row["kind"] == "province":
            values = {"aliases": region.aliases or values["aliases"], "initials": region.initials or values["initials"]}
        for field, value in values.items():
            setattr(region, field, value)
        changed.append(region)
    Region.objects.bulk_create(new, batch_size=1000)
    Region.objects.bulk_update(
        changed, ["name", "short_name", "kind", "parent_id", "aliases", "initials"], batch_size=1000
    )
    if schema_editor.connection.vendor == "postgresql":
        # Check the deferred parent keys now: the field indexes are created after this step, in the same
        # transaction, and PostgreSQL refuses CREATE INDEX on a table with pending trigger events.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def unload(apps, schema_editor):
    """Remove the cities and counties this migration added where no entry is tagged with them."""
    Region = apps.get_model("policies", "Region")
    codes = [int(row["code"]) for row in read_table() if row["kind"] != "province"]
    for kind in ("county", "city"):  # children before parents (PROTECT)
        Region.objects.filter(code__in=codes, kind=kind, entries=None, children=None).delete()


class Migration(migrations.Migration):
    dependencies = [("policies", "0008_import_job")]

    operations = [
        migrations.AlterField(
            model_name="region",
            name="name",
            field=models.CharField(db_index=True, max_length=50, verbose_name="name"),
        ),
        migrations.AddField(
            model_name="region",
            name="aliases",
            field=models.CharField(
                blank=True,
                help_text="Other names the region goes by, separated by |, e.g. 郑州高新区.",
                max_length=200,
                verbose_name="aliases",
            ),
        ),
        migrations.AddField(
            model_name="region",
            name="initials",
            field=models.CharField(blank=True, db_index=True, max_length=20, verbose_name="pinyin initials"),
        ),
        migrations.RunPython(load, unload),
    ]
