"""The rows one piece of work writes to the database, taken once and put back as often as needed.

``conftest.imported_sample`` uses it: the sample newsletter is imported once per session inside a transaction
that is rolled back, and each test that asks for the sample gets the rows back in its own transaction. On
PostgreSQL the rows travel through COPY's text format, which carries every type (tsvector, JSON, arrays)
exactly; on SQLite, whose values are plain Python ones, through the cursor.
"""

from dataclasses import dataclass, field

from django.db import connection

# On SQLite a rolled-back transaction takes its id counters back with it: the sample's rows get ids this far
# above the counters, so rows a test creates before asking for the sample never meet them.
SQLITE_ID_OFFSET = 1_000_000


def _tables():
    return sorted(connection.introspection.django_table_names(only_existing=True, include_views=False))


def _pk_column(cursor, table):
    return connection.introspection.get_primary_key_column(cursor, table)


@dataclass
class TableRows:
    """One table's rows: column names, the primary key's position, and the rows keyed by primary key."""

    columns: list
    pk_index: int
    rows: dict = field(default_factory=dict)


@dataclass
class Changes:
    """What a piece of work did to each table: rows it added or changed (their new values) and rows it deleted."""

    tables: dict  # table → (TableRows of added or changed rows, [primary keys deleted])

    def restore(self):
        """Redo the work's effect in the current transaction: delete what it deleted or changed, then write the
        rows it left."""
        with connection.cursor() as cursor:
            for table, (written, deleted) in self.tables.items():
                _delete(cursor, table, written.columns[written.pk_index], [*deleted, *written.rows])
                _insert(cursor, table, written)

    def __len__(self):
        return sum(len(written.rows) + len(deleted) for written, deleted in self.tables.values())


class TableSnapshot:
    """Every Django table's rows at one moment."""

    def __init__(self, tables):
        self.tables = tables

    @classmethod
    def take(cls):
        tables = {}
        with connection.cursor() as cursor:
            for table in _tables():
                pk = _pk_column(cursor, table)
                if pk is None:
                    continue
                tables[table] = _read(cursor, table, pk)
        return cls(tables)

    def restore_all(self):
        """Empty every table and write this moment's rows back (in the current transaction; foreign keys are
        checked at its end)."""
        from django.core.management.color import no_style

        with connection.cursor() as cursor:
            for sql in connection.ops.sql_flush(no_style(), _tables()):
                cursor.execute(sql)
            for table, rows in self.tables.items():
                _insert(cursor, table, rows)

    def changes_since(self, before):
        changes = {}
        for table, after in self.tables.items():
            old = before.tables.get(table, TableRows(after.columns, after.pk_index))
            written = TableRows(after.columns, after.pk_index)
            written.rows = {pk: row for pk, row in after.rows.items() if old.rows.get(pk) != row}
            deleted = [pk for pk in old.rows if pk not in after.rows]
            if written.rows or deleted:
                changes[table] = (written, deleted)
        return Changes(changes)


def raise_sqlite_id_counters():
    """(SQLite, inside the transaction about to be rolled back) move every id counter SQLITE_ID_OFFSET on."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for table in _tables():
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            found = cursor.fetchone()
            if found is None:
                cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, SQLITE_ID_OFFSET])
            else:
                cursor.execute(
                    "UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [found[0] + SQLITE_ID_OFFSET, table]
                )


def _quote(name):
    return connection.ops.quote_name(name)


def _read(cursor, table, pk):
    if connection.vendor == "postgresql":
        cursor.execute(f"SELECT * FROM {_quote(table)} LIMIT 0")
        columns = [column[0] for column in cursor.description]
        pk_index = columns.index(pk)
        rows = {}
        # (SELECT …): a partitioned table (the catalogue's sample) is copied out only through a query
        with cursor.cursor.copy(f"COPY (SELECT * FROM {_quote(table)}) TO STDOUT") as copy:
            data = b"".join(bytes(chunk) for chunk in copy)
        for line in data.splitlines(keepends=True):  # text format escapes tabs and newlines inside values
            rows[line.rstrip(b"\n").split(b"\t")[pk_index]] = line
        return TableRows(columns, pk_index, rows)
    cursor.execute(f"SELECT * FROM {_quote(table)}")
    columns = [column[0] for column in cursor.description]
    pk_index = columns.index(pk)
    return TableRows(columns, pk_index, {row[pk_index]: row for row in cursor.fetchall()})


def _delete(cursor, table, pk, keys):
    if not keys:
        return
    if connection.vendor == "postgresql":
        keys = [key.decode() for key in keys]
        cursor.execute(f"DELETE FROM {_quote(table)} WHERE {_quote(pk)}::text = ANY(%s)", [keys])
        return
    marks = ", ".join(["%s"] * len(keys))
    cursor.execute(f"DELETE FROM {_quote(table)} WHERE {_quote(pk)} IN ({marks})", keys)


def _insert(cursor, table, written):
    if not written.rows:
        return
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(f"COPY {_quote(table)} FROM STDIN") as copy:
            copy.write(b"".join(written.rows.values()))
        return
    columns = ", ".join(_quote(column) for column in written.columns)
    marks = ", ".join(["%s"] * len(written.columns))
    cursor.executemany(f"INSERT INTO {_quote(table)} ({columns}) VALUES ({marks})", list(written.rows.values()))
