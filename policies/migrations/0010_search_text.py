"""Keyword search on normalised text: ``CatalogueRow.search_text`` (issuing body, title, summary and 文号 as
letters and digits only, lower case) with a trigram GIN index (pg_trgm), and the tsvectors rebuilt as every
two-character run of that text (and its last character), across punctuation and spaces.

The normalising and the lexemes are written out here, frozen, rather than imported from
``policies.indexing``: this migration keeps doing what it did when it was written. They equal what
``policies.indexing`` computes today (``reindex_catalogue --check`` would name any entry that differs).
"""

import re
import unicodedata

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

BATCH = 20000
_NOT_SEARCHED = re.compile(r"[\W_]+")


def _normalized(text):
    return _NOT_SEARCHED.sub("", unicodedata.normalize("NFKC", text or "").lower())


def _search_text(title, issuer, summary, doc_number):
    return "".join(_normalized(part) for part in (issuer, title, summary, doc_number))


def _tokens_literal(text):
    tokens = set(map(str.__add__, text, text[1:]))
    if text:
        tokens.add(text[-1])
    return "{" + ",".join(sorted(tokens)) + "}"


def _fill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _fill_postgresql(schema_editor.connection)
        return
    # SQLite: the text only (keyword search reads it there; the tsvector stays empty).
    CatalogueRow = apps.get_model("policies", "CatalogueRow")
    rows = list(CatalogueRow.objects.select_related("entry"))
    for row in rows:
        entry = row.entry
        row.search_text = _search_text(entry.title, entry.issuer, entry.summary, entry.doc_number)
    CatalogueRow.objects.bulk_update(rows, ["search_text"], batch_size=1000)


def _fill_postgresql(connection):
    """The texts and lexemes computed here batch by batch, COPYed into a temporary table, applied with one
    UPDATE per table; the GIN indexes dropped first and built once at the end (faster than row by row)."""
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS catrow_vector")
        cursor.execute("DROP INDEX IF EXISTS catsample_vector")
        cursor.execute(
            "CREATE TEMP TABLE search_text_fill (entry_id bigint PRIMARY KEY, search_text text, tokens text) "
            "ON COMMIT DROP"
        )
        last = 0
        while True:
            cursor.execute(
                "SELECT e.id, e.title, e.issuer, e.summary, e.doc_number FROM policies_cataloguerow r "
                "JOIN policies_entry e ON e.id = r.entry_id WHERE r.entry_id > %s ORDER BY r.entry_id LIMIT %s",
                [last, BATCH],
            )
            batch = cursor.fetchall()
            if not batch:
                break
            last = batch[-1][0]
            with cursor.cursor.copy("COPY search_text_fill (entry_id, search_text, tokens) FROM STDIN") as copy:
                for pk, title, issuer, summary, doc_number in batch:
                    text = _search_text(title, issuer, summary, doc_number)
                    copy.write_row((pk, text, _tokens_literal(text)))
        cursor.execute(
            "UPDATE policies_cataloguerow r SET search_text = f.search_text, "
            "vector = array_to_tsvector(f.tokens::text[]) FROM search_text_fill f WHERE f.entry_id = r.entry_id"
        )
        cursor.execute(
            "UPDATE policies_cataloguesample s SET vector = array_to_tsvector(f.tokens::text[]) "
            "FROM search_text_fill f WHERE f.entry_id = s.entry_id"
        )
        cursor.execute("CREATE INDEX catrow_vector ON policies_cataloguerow USING gin (vector)")
        cursor.execute("CREATE INDEX catsample_vector ON policies_cataloguesample USING gin (vector)")
        cursor.execute("CREATE INDEX catrow_search_trgm ON policies_cataloguerow USING gin (search_text gin_trgm_ops)")


def _unfill(apps, schema_editor):
    # The tsvectors keep their new lexemes: run reindex_catalogue after going back.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS catrow_search_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0009_gbt2260_regions"),
    ]

    operations = [
        TrigramExtension(),
        migrations.AddField(
            model_name="cataloguerow",
            name="search_text",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(_fill, _unfill),
    ]
