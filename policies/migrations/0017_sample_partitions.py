"""The sample table split by bucket, with GIN indexes on its regions and themes (PostgreSQL only).

A facet estimated from the first *k* buckets of the sample read, under a keyword, every sampled match of the
keyword in all six buckets, then kept those below *k*: the rows of a bucket lie together only within a batch,
and the planner, which underestimates a phrase of several two-character runs ANDed (2,184 expected for 15,078
under 一网通办), did not combine the keyword's bitmap with the bucket's. One partition per bucket: ``sample < k``
reads *k* of the six. And a region or theme filter (``regions && …``) was checked on every keyword match's
row: with a GIN index on each array, the two bitmaps are ANDed first (证照 in 广东: 57 → 11 ms over the six
buckets at a million entries). A second index on the vector carries the date too.

The primary key becomes ``(entry_id, sample)``, as a partitioned table's key must hold its partition key;
``sample`` is derived from the entry id, so the entry alone stays unique. SQLite keeps its plain, empty table.
"""

from django.db import migrations

TABLE = "policies_cataloguesample"
COLUMNS = "entry_id, published_on, kind, level, sample, vector, regions, provinces, themes, issuer"
BUCKETS = 6  # SAMPLE_TABLE_BUCKETS when this was written


def _rebuild(schema_editor, *, partitioned):
    """The table recreated, partitioned by bucket or plain, with its rows, key, foreign key and indexes."""
    execute = schema_editor.execute
    execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_old")
    indexes = (
        "catsample_covering",
        "catsample_vector",
        "catsample_vector_date",
        "catsample_regions",
        "catsample_themes",
    )
    for name in (f"{TABLE}_pkey", *indexes):
        execute(f"ALTER INDEX IF EXISTS {name} RENAME TO {name}_old")
    partition_by = " PARTITION BY LIST (sample)" if partitioned else ""
    execute(f"CREATE TABLE {TABLE} (LIKE {TABLE}_old INCLUDING DEFAULTS INCLUDING STORAGE){partition_by}")
    if partitioned:
        for bucket in range(BUCKETS):
            execute(f"CREATE TABLE {TABLE}_{bucket} PARTITION OF {TABLE} FOR VALUES IN ({bucket})")
    execute(f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {COLUMNS} FROM {TABLE}_old ORDER BY sample, entry_id")
    execute(f"DROP TABLE {TABLE}_old")  # with its partitions, when it had them
    key = "entry_id, sample" if partitioned else "entry_id"
    execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY ({key})")
    execute(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_entry_id_fk FOREIGN KEY (entry_id) "
        "REFERENCES policies_entry (id) DEFERRABLE INITIALLY DEFERRED"
    )
    execute(
        f"CREATE INDEX catsample_covering ON {TABLE} (sample) "
        "INCLUDE (published_on, kind, level, entry_id, regions, provinces, themes, issuer)"
    )
    execute(f"CREATE INDEX catsample_vector ON {TABLE} USING gin (vector)")
    if partitioned:
        # The lexemes with the date beside them (btree_gin): a keyword under a date filter visits only the rows of
        # those dates (一网通办 over two years: 3,860 of 15,078 sampled matches, 56 → 16 ms). The vector alone
        # stays too: scanning the date range inside this index costs ~2 ms a partition, where a region's or
        # theme's bitmap ANDed with the vector's leaves a few dozen rows to read (12 → 2.6 ms); the planner
        # takes whichever is cheaper.
        execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        execute(f"CREATE INDEX catsample_vector_date ON {TABLE} USING gin (vector, published_on)")
        execute(f"CREATE INDEX catsample_regions ON {TABLE} USING gin (regions)")
        execute(f"CREATE INDEX catsample_themes ON {TABLE} USING gin (themes)")
    execute(f"ANALYZE {TABLE}")


def _partition(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _rebuild(schema_editor, partitioned=True)


def _unpartition(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _rebuild(schema_editor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0016_covering_count_and_sample_indexes"),
    ]

    operations = [migrations.RunPython(_partition, _unpartition)]
