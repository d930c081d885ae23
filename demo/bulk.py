"""Bulk loading on PostgreSQL: build the tables' indexes once, after the load, instead of row by row during it.

    with indexes_deferred(Entry, Entry.regions.through):
        ...  # COPY a million rows in

``indexes_deferred(*models)`` reads the tables' indexes and constraints from the database when it is entered
(``pg_get_indexdef``, ``pg_get_constraintdef``: whatever the migrations made, an index added tomorrow too)
and drops them; on leaving, it creates them again from those definitions, with a large
``maintenance_work_mem`` and parallel workers (B-trees), and adds the foreign keys back, which checks all the
loaded rows in one query per key instead of one trigger per row. A GIN index in particular is many times
faster to build than to fill.

Safe by transaction: the drop, the load and the rebuild happen in one transaction (a savepoint when there is
one already). If anything fails in between, the rebuild included (a duplicate key, a foreign key that points
nowhere), or the process dies, the rollback restores every index and constraint as it was and takes the
loaded rows away with it: the tables are never left bare.

What stays: NOT NULL and CHECK constraints (cheap, checked row by row), and any index that a foreign key from
a table outside the group depends on (the primary key other tables point at), with its constraint; lookups
during the load can use it too. The rest goes and comes back: secondary indexes, unique constraints, primary
keys, foreign keys. Only what the definitions say is rebuilt: not comments, CLUSTER marks or per-index
statistics targets.

The tables stay locked (ACCESS EXCLUSIVE, the tables their foreign keys point at too) until the transaction
ends, so this is for loaders that run alone (``seed_demo``); and it pays off when the load is large next to
what the tables hold already, since a rebuild reads the whole table. On other databases (SQLite) it does
nothing.
"""

import contextlib
import dataclasses
import logging
import time

from django.db import DEFAULT_DB_ALIAS, connections, transaction

logger = logging.getLogger(__name__)

# The tables' own keys, unique and exclusion constraints, with the index behind each (for keys: the index of
# the table they point at).
_CONSTRAINTS = """
    SELECT c.conname, c.contype, pg_get_constraintdef(c.oid), c.conindid
    FROM pg_constraint c
    WHERE c.conrelid = %s::regclass AND c.contype IN ('p', 'u', 'x', 'f')
    ORDER BY c.contype, c.conname
"""
# Indexes that a foreign key from outside the group depends on: they stay.
_REFERENCED_FROM_OUTSIDE = """
    SELECT DISTINCT c.conindid FROM pg_constraint c
    WHERE c.contype = 'f' AND c.confrelid = ANY(%s::regclass[]) AND c.conrelid <> ALL(%s::regclass[])
"""
# Indexes that no constraint owns.
_INDEXES = """
    SELECT i.indexrelid, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
    FROM pg_index i
    WHERE i.indrelid = %s::regclass
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
    ORDER BY 2
"""


@dataclasses.dataclass
class Deferred:
    """What ``indexes_deferred`` dropped and rebuilt (the statements that rebuild it, in order), and how long
    each part took, in seconds."""

    drop: list = dataclasses.field(default_factory=list)
    rebuild: list = dataclasses.field(default_factory=list)
    drop_seconds: float = 0.0
    rebuild_seconds: float = 0.0


@contextlib.contextmanager
def indexes_deferred(*models, using=DEFAULT_DB_ALIAS, maintenance_work_mem="1GB", workers=2):
    """Drop the indexes and constraints of the models' tables, run the block, then build them all again, in
    one transaction (see the module's docstring). ``models`` are model classes (an M2M ``through`` model
    too); ``maintenance_work_mem`` and ``workers`` (parallel workers per B-tree build) apply to the rebuild
    only. Yields a ``Deferred``, complete once the block is left."""
    connection = connections[using]
    deferred = Deferred()
    if connection.vendor != "postgresql" or not models:
        yield deferred
        return
    tables = list(dict.fromkeys(connection.ops.quote_name(model._meta.db_table) for model in models))
    with transaction.atomic(using=using), connection.cursor() as cursor:
        started = time.monotonic()
        connection.check_constraints()  # deferred key checks pending on these tables would stop the ALTERs
        deferred.drop, deferred.rebuild = _plan(cursor, tables)
        for statement in deferred.drop:
            cursor.execute(statement)
        deferred.drop_seconds = time.monotonic() - started

        yield deferred

        started = time.monotonic()
        cursor.execute(
            "SELECT current_setting('maintenance_work_mem'), current_setting('max_parallel_maintenance_workers')"
        )
        before = cursor.fetchone()
        _settings(cursor, maintenance_work_mem, workers)
        for statement in deferred.rebuild:
            began = time.monotonic()
            cursor.execute(statement)
            logger.debug("%.1f s: %s", time.monotonic() - began, statement)
        _settings(cursor, *before)
        deferred.rebuild_seconds = time.monotonic() - started


def _settings(cursor, maintenance_work_mem, workers):
    cursor.execute(
        "SELECT set_config('maintenance_work_mem', %s, true), set_config('max_parallel_maintenance_workers', %s, true)",
        [str(maintenance_work_mem), str(workers)],
    )


def _plan(cursor, tables):
    """The statements that drop the tables' indexes and constraints, and those that rebuild them: indexes and
    the constraints they back first, foreign keys last (they need the unique index they point at)."""
    cursor.execute(_REFERENCED_FROM_OUTSIDE, [tables, tables])
    kept = {oid for (oid,) in cursor.fetchall()}
    drop_keys, drop, rebuild, add_keys = [], [], [], []
    for table in tables:
        cursor.execute("SELECT %s::regclass::text", [table])
        (name,) = cursor.fetchone()  # schema-qualified when not on the search path
        cursor.execute(_CONSTRAINTS, [table])
        for constraint, kind, definition, index in cursor.fetchall():
            if kind != "f" and index in kept:
                continue
            cursor.execute("SELECT quote_ident(%s)", [constraint])
            (constraint,) = cursor.fetchone()
            (drop_keys if kind == "f" else drop).append(f"ALTER TABLE {name} DROP CONSTRAINT {constraint}")
            (add_keys if kind == "f" else rebuild).append(
                f"ALTER TABLE {name} ADD CONSTRAINT {constraint} {definition}"
            )
        cursor.execute(_INDEXES, [table])
        for index, index_name, definition in cursor.fetchall():
            if index not in kept:
                drop.append(f"DROP INDEX {index_name}")
                rebuild.append(definition)
    return [*drop_keys, *drop], [*rebuild, *add_keys]
