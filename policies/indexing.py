"""The library's index tables, kept in step with the catalogue by one service.

Every write path calls ``entries_reindex(entry_ids=…)`` after it has saved entries and their tags: the
newsletter importer, the admin (save, mark ready, suggested themes), the spreadsheet import and the
``reindex_catalogue`` command. Only ready entries are indexed; an entry that is not ready (or no longer
exists) loses its rows.

Keyword search: the title, issuing body and summary are segmented with jieba in search mode, with the
domain dictionary ``jieba_dict.txt`` (一网通办, 跨省通办, 电子证照, 许可证照 …); every two-character piece of
each word is added too, so a two-character query (证照) finds every word that holds it. The tokens go into a
PostgreSQL ``simple`` tsvector with a GIN index. A query is segmented in precise mode and its tokens are
ANDed: 一网通办 is one token and does not match every 网 and 办.
"""

import datetime
import re
import threading
from collections.abc import Iterable
from pathlib import Path

from django.db import connection, transaction
from django.db.models import F

from policies.models import (
    CatalogueCount,
    CatalogueRegion,
    CatalogueRegionTheme,
    CatalogueRow,
    CatalogueTheme,
    CatalogueVersion,
    Entry,
    Region,
    Status,
)

DICTIONARY = Path(__file__).with_name("jieba_dict.txt")
BATCH = 2000
_WORD = re.compile(r"[\w+]+")  # runs of letters, digits and CJK characters; punctuation splits
_lock = threading.Lock()
_tokenizer = None


def tokenizer():
    """A jieba tokenizer of our own (the global one is left alone), with the domain dictionary, loaded once."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                import jieba

                instance = jieba.Tokenizer()
                instance.load_userdict(str(DICTIONARY))
                _tokenizer = instance
    return _tokenizer


def _clean(text):
    return text.replace("**", "")


def _is_cjk(text):
    return all("\u3400" <= char <= "\u9fff" for char in text)


def index_tokens(text):
    """The set of tokens an entry's text is indexed under (lower-cased): jieba's search-mode words plus every
    two-character run of Chinese text, inside a word or across two, so a two-character query finds every
    entry that holds it (证照 in 身份证照片 too), whatever jieba made of the sentence."""
    tokens = set()
    cut = tokenizer().cut_for_search
    for chunk in _WORD.findall(_clean(text)):
        chunk = chunk.lower()
        tokens.update(word for word in cut(chunk, HMM=False) if word.strip())
        tokens.update(pair for pair in (chunk[i : i + 2] for i in range(len(chunk) - 1)) if _is_cjk(pair))
    return tokens


def query_tokens(text):
    """The tokens a keyword query must all match: precise segmentation, so a domain term stays one token
    (一网通办 does not match every 网 and 办); a lone character is replaced by the pairs it forms with its
    neighbours, which the index holds."""
    tokens = []
    cut = tokenizer().cut
    for chunk in _WORD.findall(_clean(text)):
        chunk = chunk.lower()
        position = 0
        for word in cut(chunk, HMM=False):
            start, position = position, position + len(word)
            if not word.strip():
                continue
            pieces = [word]
            if len(word) == 1 and _is_cjk(word) and len(chunk) > 1:
                pieces = [chunk[i : i + 2] for i in (start - 1, start) if i >= 0 and i + 2 <= len(chunk)]
                pieces = [piece for piece in pieces if _is_cjk(piece)] or [word]
            tokens.extend(piece for piece in pieces if piece not in tokens)
    return tokens


def entry_search_text(title, issuer, summary):
    return "\n".join([title or "", issuer or "", summary or ""])


def tsvector_text(tokens: Iterable[str]):
    """Tokens joined for ``to_tsvector('simple', …)``: the simple parser splits on the spaces."""
    return " ".join(sorted(tokens))


class _Ancestors:
    """Region code → itself and every region above it (parent chain and province), read once per batch."""

    def __init__(self):
        self.parent = dict(Region.objects.values_list("code", "parent_id"))

    def __call__(self, code):
        seen = []
        while code is not None and code not in seen and code in self.parent:
            seen.append(code)
            code = self.parent[code]
        province = seen[0] // 10000 * 10000 if seen else None
        if province in self.parent and province not in seen:
            seen.append(province)
        return seen


def _is_province(code):
    return code % 10000 == 0


def entries_reindex(*, entry_ids, tokens=None, fresh=False, counts=True):
    """Bring the index tables in step with the given entries (any number; done in batches), then the
    counts table (``CatalogueCount``) for every month an entry was or is now in.

    ``tokens`` (entry id → set of tokens) lets a bulk loader that has segmented the text already skip
    jieba; ``fresh`` skips deleting old rows when the caller knows there are none (an empty catalogue);
    ``counts=False`` leaves the counts table to a bulk loader that rebuilds it once at the end
    (``catalogue_counts_refresh()``). Returns the number of entries indexed (ready ones).
    """
    ids = sorted(set(entry_ids))
    ancestors = _Ancestors()
    indexed = 0
    months = set()
    for start in range(0, len(ids), BATCH):
        done, touched = _reindex_batch(ids[start : start + BATCH], ancestors, tokens, fresh)
        indexed += done
        months |= touched
    if ids:
        with transaction.atomic():
            catalogue_changed()  # locks the version row: concurrent refreshes of the same months take turns
            if counts:
                catalogue_counts_refresh(months=months)
    return indexed


def entries_delete(*, entry_ids):
    """Delete entries (their tags and index rows go with them) and recount the months they were listed in."""
    with transaction.atomic():
        months = _months(CatalogueRow.objects.filter(entry_id__in=entry_ids).values_list("published_on", flat=True))
        deleted, _by_model = Entry.objects.filter(pk__in=entry_ids).delete()
        catalogue_changed()
        catalogue_counts_refresh(months=months)
    return deleted


def _months(days):
    return {day.replace(day=1) for day in days}


def _next_month(month):
    return (month + datetime.timedelta(days=32)).replace(day=1)


_NULL = "CAST(NULL AS INTEGER)"  # typed, so the UNION of the selects agrees on the column types
_COUNT_SELECTS = (
    # (index tables, region, theme, is_province, chosen region, chosen theme)
    ("policies_cataloguerow t", _NULL, _NULL, "%s", _NULL, _NULL),
    ("policies_catalogueregion t", "t.region_id", _NULL, "t.is_province", _NULL, _NULL),
    ("policies_cataloguetheme t", _NULL, "t.theme_id", "%s", _NULL, _NULL),
    ("policies_catalogueregiontheme t", "t.region_id", "t.theme_id", "t.is_province", _NULL, _NULL),
    # co-occurrence: per theme among the entries with a chosen theme, per province among those in a chosen region
    (
        "policies_cataloguetheme t JOIN policies_cataloguetheme o ON o.entry_id = t.entry_id",
        _NULL,
        "t.theme_id",
        "%s",
        _NULL,
        "o.theme_id",
    ),
    (
        "policies_catalogueregion t JOIN policies_catalogueregion o ON o.entry_id = t.entry_id AND t.is_province",
        "t.region_id",
        _NULL,
        "t.is_province",
        "o.region_id",
        _NULL,
    ),
)
_COUNT_COLUMNS = "month, region_id, theme_id, is_province, chosen_region_id, chosen_theme_id, kind, level, entries"


def catalogue_counts_refresh(*, months=None):
    """Recompute ``CatalogueCount`` from the index tables: for the given months (any dates; their months are
    taken), each with one DELETE and one INSERT … SELECT … GROUP BY over that month's entries; or everything
    when ``months`` is None (after a bulk load)."""
    if months is not None:
        months = sorted(_months(months))
        if not months:
            return
    if connection.vendor == "postgresql":
        month_sql = "date_trunc('month', t.published_on)::date"
    else:
        month_sql = "date(t.published_on, 'start of month')"
    table = CatalogueCount._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        for month in months if months is not None else [None]:
            selects, params = [], []
            for source, region, theme, province, chosen_region, chosen_theme in _COUNT_SELECTS:
                if province == "%s":
                    params.append(False)
                select = (
                    f"SELECT {month_sql}, {region}, {theme}, {province}, {chosen_region}, {chosen_theme}, "
                    f"t.kind, t.level, COUNT(*) FROM {source}"
                )
                if month is not None:
                    select += (
                        " WHERE t.entry_id IN (SELECT entry_id FROM policies_cataloguerow"
                        " WHERE published_on >= %s AND published_on < %s)"
                    )
                    params += [month, _next_month(month)]
                selects.append(f"{select} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8")
            if month is None:
                cursor.execute(f"DELETE FROM {table}")
            else:
                cursor.execute(f"DELETE FROM {table} WHERE month = %s", [month])
            cursor.execute(f"INSERT INTO {table} ({_COUNT_COLUMNS}) " + " UNION ALL ".join(selects), params)


def catalogue_changed():
    """Bump the catalogue version, which clears cached facet counts."""
    if not CatalogueVersion.objects.filter(pk=1).update(number=F("number") + 1):
        CatalogueVersion.objects.get_or_create(pk=1)


def catalogue_version():
    return CatalogueVersion.objects.filter(pk=1).values_list("number", flat=True).first() or 0


@transaction.atomic
def _reindex_batch(ids, ancestors, tokens, fresh):
    months = set()
    if not fresh:
        months = _months(CatalogueRow.objects.filter(entry_id__in=ids).values_list("published_on", flat=True))
        for model in (CatalogueRow, CatalogueRegion, CatalogueTheme, CatalogueRegionTheme):
            model.objects.filter(entry_id__in=ids).delete()
    entries = {
        pk: values
        for pk, *values in Entry.objects.filter(pk__in=ids, status=Status.READY).values_list(
            "pk", "published_on", "kind", "level", "title", "issuer", "summary"
        )
    }
    if not entries:
        return 0, months
    months |= _months(values[0] for values in entries.values())
    regions, themes = {}, {}
    for entry_id, code in Entry.regions.through.objects.filter(entry_id__in=entries).values_list(
        "entry_id", "region_id"
    ):
        regions.setdefault(entry_id, set()).update(ancestors(code))
    for entry_id, theme_id in Entry.themes.through.objects.filter(entry_id__in=entries).values_list(
        "entry_id", "theme_id"
    ):
        themes.setdefault(entry_id, set()).add(theme_id)

    rows, region_rows, theme_rows, pair_rows = [], [], [], []
    for pk, (published_on, kind, level, title, issuer, summary) in entries.items():
        entry_tokens = tokens.get(pk) if tokens else None
        if entry_tokens is None:
            entry_tokens = index_tokens(entry_search_text(title, issuer, summary))
        rows.append((pk, published_on, kind, level, tsvector_text(entry_tokens)))
        for code in sorted(regions.get(pk, ())):
            region_rows.append((pk, code, _is_province(code), published_on, kind, level))
            for theme_id in sorted(themes.get(pk, ())):
                pair_rows.append((pk, code, theme_id, _is_province(code), published_on, kind, level))
        for theme_id in sorted(themes.get(pk, ())):
            theme_rows.append((pk, theme_id, published_on, kind, level))

    if connection.vendor == "postgresql":
        _copy_postgresql(rows, region_rows, theme_rows, pair_rows)
    else:
        CatalogueRow.objects.bulk_create(
            CatalogueRow(entry_id=pk, published_on=d, kind=k, level=lv) for pk, d, k, lv, _t in rows
        )
        CatalogueRegion.objects.bulk_create(
            CatalogueRegion(entry_id=e, region_id=r, is_province=p, published_on=d, kind=k, level=lv)
            for e, r, p, d, k, lv in region_rows
        )
        CatalogueTheme.objects.bulk_create(
            CatalogueTheme(entry_id=e, theme_id=t, published_on=d, kind=k, level=lv) for e, t, d, k, lv in theme_rows
        )
        CatalogueRegionTheme.objects.bulk_create(
            CatalogueRegionTheme(entry_id=e, region_id=r, theme_id=t, is_province=p, published_on=d, kind=k, level=lv)
            for e, r, t, p, d, k, lv in pair_rows
        )
    return len(rows), months


def _copy_postgresql(rows, region_rows, theme_rows, pair_rows):
    """COPY the rows in (several times faster than INSERT at a million entries); the tsvector is built by
    PostgreSQL from the token text in one INSERT … SELECT."""
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS catalogue_tokens "
            "(entry_id bigint, published_on date, kind varchar(10), level varchar(10), tokens text) "
            "ON COMMIT DELETE ROWS"
        )
        with raw.copy("COPY catalogue_tokens (entry_id, published_on, kind, level, tokens) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            "INSERT INTO policies_cataloguerow (entry_id, published_on, kind, level, vector) "
            "SELECT entry_id, published_on, kind, level, strip(to_tsvector('simple', tokens)) FROM catalogue_tokens"
        )
        cursor.execute("DELETE FROM catalogue_tokens")
        for table, columns, data in (
            ("policies_catalogueregion", "entry_id, region_id, is_province, published_on, kind, level", region_rows),
            ("policies_cataloguetheme", "entry_id, theme_id, published_on, kind, level", theme_rows),
            (
                "policies_catalogueregiontheme",
                "entry_id, region_id, theme_id, is_province, published_on, kind, level",
                pair_rows,
            ),
        ):
            if data:
                with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in data:
                        copy.write_row(row)


def catalogue_reindex_all(*, batch_size=20000, progress=None):
    """Rebuild the index tables for every entry (the ``reindex_catalogue`` command)."""
    models = (CatalogueRegionTheme, CatalogueTheme, CatalogueRegion, CatalogueRow)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(model._meta.db_table for model in models)}")
    else:
        with transaction.atomic():
            for model in models:
                model.objects.all().delete()
    ids = list(Entry.objects.filter(status=Status.READY).order_by("pk").values_list("pk", flat=True))
    done = 0
    for start in range(0, len(ids), batch_size):
        done += entries_reindex(entry_ids=ids[start : start + batch_size], fresh=True, counts=False)
        if progress:
            progress(done, len(ids))
    with transaction.atomic():
        catalogue_changed()
        catalogue_counts_refresh()
    return done
