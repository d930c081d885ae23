"""The library's index tables, kept in step with the catalogue by one service.

One entry point keeps them right, whatever writes the catalogue: ``policies.receivers`` notes every entry
a write touches (an entry saved or deleted, its regions or themes changed from either side, a region
re-parented or deleted, a theme deleted) with ``catalogue_touch``, and the entries noted in a transaction
are reindexed once, when it commits (Wagtail's search index works the same way). A service that wants the
index right inside its own transaction (the importer, the admin) calls ``catalogue_flush()`` or
``entries_reindex(entry_ids=…)``; either takes those entries off the list for the commit. Bulk loaders that
bypass the ORM (``seed_demo``) call ``entries_reindex`` themselves. ``catalogue_check()`` (``reindex_catalogue
--check``) names the entries whose rows differ from a rebuild. Only ready entries are indexed; an entry that
is not ready (or no longer exists) loses its rows.

Keyword search: the title, issuing body and summary are segmented with jieba in search mode, with the
domain dictionary ``jieba_dict.txt`` (一网通办, 跨省通办, 电子证照, 许可证照 …); every two-character piece of
each word is added too, so a two-character query (证照) finds every word that holds it. The tokens go into a
PostgreSQL ``simple`` tsvector with a GIN index. A query is segmented in precise mode and its tokens are
ANDed: 一网通办 is one token and does not match every 网 and 办.
"""

import datetime
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction
from django.db.models import F, Q

from policies.models import (
    CatalogueCount,
    CatalogueRegion,
    CatalogueRegionTheme,
    CatalogueRow,
    CatalogueSample,
    CatalogueTheme,
    CatalogueVersion,
    Entry,
    Region,
    Status,
)

DICTIONARY = Path(__file__).with_name("jieba_dict.txt")
logger = logging.getLogger(__name__)
BATCH = 2000
_WORD = re.compile(r"[\w+]+")  # runs of letters, digits and CJK characters; punctuation splits
_lock = threading.Lock()
_tokenizer = None
_local = threading.local()


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


SAMPLE_BUCKETS = 64
SAMPLE_TABLE_BUCKETS = 6  # CatalogueSample holds the entries of buckets 0–5: 6 in 64, about 1 in 11


def sample_bucket(entry_id):
    """The entry's sample bucket, 0–63: the top bits of a multiplicative hash of its id (Knuth), so bucket
    < k is an even 1-in-(64/k) sample whatever the ids' order or gaps."""
    return ((entry_id * 2654435761) % 2**32) >> 26


def entries_reindex(*, entry_ids, tokens=None, fresh=False, counts=True):
    """Bring the index tables and the counts table (``CatalogueCount``) in step with the given entries (any
    number; done in batches of ``BATCH``, each in a transaction of its own).

    ``tokens`` (entry id → set of tokens) lets a bulk loader that has segmented the text already skip
    jieba; ``fresh`` skips deleting old rows when the caller knows there are none (an empty catalogue);
    ``counts=False`` leaves the counts table to a bulk loader that rebuilds it once at the end
    (``catalogue_counts_refresh()``). Returns the number of entries indexed (ready ones).
    """
    ids = sorted(set(entry_ids))
    pending = getattr(_local, "pending", None)
    if pending is not None:
        pending.ids.difference_update(ids)
    ancestors = _Ancestors()
    indexed = 0
    for start in range(0, len(ids), BATCH):
        indexed += _reindex_batch(ids[start : start + BATCH], ancestors, tokens, fresh, counts)
    return indexed


class _Pending:
    """The entries touched in one transaction; called once it commits (registered with ``on_commit``)."""

    def __init__(self):
        self.ids = set()
        self.done = False

    def __call__(self):
        ids, self.ids, self.done = self.ids, set(), True
        if ids:
            entries_reindex(entry_ids=ids)


def _registered(pending):
    """Whether ``pending`` will still run at commit: not run yet, and its hook not dropped by a rollback."""
    return not pending.done and any(
        func is pending for _sids, func, _robust in transaction.get_connection().run_on_commit
    )


def catalogue_touch(entry_ids):
    """Note entries whose index rows may have gone stale: they are reindexed when the transaction commits
    (at once outside a transaction). A savepoint rolled back drops what was noted inside it with its commit
    hook, and a later touch starts a new list."""
    ids = {pk for pk in entry_ids if pk is not None}
    if not ids:
        return
    if not transaction.get_connection().in_atomic_block:
        entries_reindex(entry_ids=ids)
        return
    pending = getattr(_local, "pending", None)
    if pending is None or not _registered(pending):
        pending = _local.pending = _Pending()
        transaction.on_commit(pending, robust=True)  # a failure is logged; reindex_catalogue --check finds it
    pending.ids.update(ids)


def catalogue_flush():
    """Reindex now, inside the current transaction, the entries touched so far (the commit has nothing left)."""
    pending = getattr(_local, "pending", None)
    if pending is not None and _registered(pending):
        pending()


def entry_counts_forget(entry_id):
    """Take an entry about to be deleted out of the counts table (its index rows go with it by cascade).
    ``entries_delete`` does this per batch; this is for a delete that came another way."""
    if entry_id in getattr(_local, "deleting", ()):
        return
    catalogue_changed()
    _counts_apply({key: -n for key, n in _contributions([entry_id]).items()})


@transaction.atomic
def entries_delete(*, entry_ids):
    """Delete entries (their tags and index rows go with them) and take them out of the counts table.

    Locks the entries before the catalogue version, in the order every writer takes them (the admin saves an
    entry, then reindexes it), so a delete and a save of the same entry wait for each other, not deadlock."""
    ids = list(
        Entry.objects.select_for_update().filter(pk__in=set(entry_ids)).order_by("pk").values_list("pk", flat=True)
    )
    catalogue_changed()
    before = {}
    for start in range(0, len(ids), BATCH):
        before = _added(before, _contributions(ids[start : start + BATCH]))
    _local.deleting = set(ids)
    try:
        deleted, _by_model = Entry.objects.filter(pk__in=ids).delete()
    finally:
        _local.deleting = set()
    _counts_apply({key: -n for key, n in before.items()})
    return deleted


_NULL = "CAST(NULL AS INTEGER)"  # typed, so the UNION of the selects agrees on the column types
_COUNT_SELECTS = (
    # (index table, region, theme, is_province): every entry; per region; per theme; per region × theme
    ("policies_cataloguerow", _NULL, _NULL, "%s"),
    ("policies_catalogueregion", "t.region_id", _NULL, "t.is_province"),
    ("policies_cataloguetheme", _NULL, "t.theme_id", "%s"),
    ("policies_catalogueregiontheme", "t.region_id", "t.theme_id", "t.is_province"),
)
_COUNT_KEY = ("month", "region_id", "theme_id", "is_province", "kind", "level")


def _count_select(where="", where_params=()):
    """The counts table's rows, computed from the index tables (restricted by ``where`` on ``t``)."""
    if connection.vendor == "postgresql":
        month = "date_trunc('month', t.published_on)::date"
    else:
        month = "date(t.published_on, 'start of month')"
    selects, params = [], []
    for table, region, theme, province in _COUNT_SELECTS:
        if province == "%s":
            params.append(False)
        params.extend(where_params)
        selects.append(
            f"SELECT {month}, {region}, {theme}, {province}, t.kind, t.level, COUNT(*) FROM {table} t {where} "
            "GROUP BY 1, 2, 3, 4, 5, 6"
        )
    return " UNION ALL ".join(selects), params


def _contributions(ids):
    """What the given entries add to the counts table as it stands: {key: entries}, keyed as ``_COUNT_KEY``."""
    if not ids:
        return {}
    sql, params = _count_select(f"WHERE t.entry_id IN ({', '.join(['%s'] * len(ids))})", list(ids))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {
        (_as_date(month), region, theme, bool(province), kind, level): n
        for month, region, theme, province, kind, level, n in rows
    }


def _as_date(value):
    return datetime.date.fromisoformat(value) if isinstance(value, str) else value


def _added(one, other, sign=1):
    total = dict(one)
    for key, n in other.items():
        total[key] = total.get(key, 0) + sign * n
    return total


def _counts_apply(delta):
    """Add ``delta`` ({key: ±entries}) to the counts table: a few statements whatever its size; rows that
    fall to zero go."""
    delta = {key: n for key, n in delta.items() if n}
    if not delta:
        return
    regions = {key[1] for key in delta if key[1] is not None}
    themes = {key[2] for key in delta if key[2] is not None}
    found = {
        tuple(getattr(row, name) for name in _COUNT_KEY): row
        for row in CatalogueCount.objects.filter(
            Q(region__isnull=True) | Q(region_id__in=regions),
            Q(theme__isnull=True) | Q(theme_id__in=themes),
            month__in={key[0] for key in delta},
        )
    }
    changed, added, emptied = [], [], []
    for key, n in delta.items():
        row = found.get(key)
        if row is None:
            if n > 0:
                added.append(CatalogueCount(**dict(zip(_COUNT_KEY, key, strict=True)), entries=n))
            else:  # nothing to take from: the table is stale (rows changed behind the service's back)
                logger.warning("counts table out of step at %s; run reindex_catalogue --counts-only", key)
            continue
        row.entries += n
        (changed if row.entries > 0 else emptied).append(row)
    CatalogueCount.objects.bulk_update(changed, ["entries"], batch_size=1000)
    CatalogueCount.objects.bulk_create(added, batch_size=1000)
    CatalogueCount.objects.filter(pk__in=[row.pk for row in emptied]).delete()


def catalogue_counts_refresh():
    """Rebuild ``CatalogueCount`` from the index tables (after a bulk load; ~20 s at 1,000,000 entries)."""
    table = CatalogueCount._meta.db_table
    sql, params = _count_select()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
        cursor.execute(f"INSERT INTO {table} ({', '.join(_COUNT_KEY)}, entries) {sql}", params)


def catalogue_changed():
    """Bump the catalogue version, which clears cached facet counts. Its row stays locked to the end of the
    transaction, so two writers of the index and counts tables take turns."""
    if not CatalogueVersion.objects.filter(pk=1).update(number=F("number") + 1):
        CatalogueVersion.objects.get_or_create(pk=1)


def catalogue_version():
    return CatalogueVersion.objects.filter(pk=1).values_list("number", flat=True).first() or 0


@transaction.atomic
def _reindex_batch(ids, ancestors, tokens, fresh, counts):
    catalogue_changed()
    before = {}
    if not fresh:
        if counts:
            before = _contributions(ids)
        for model in (CatalogueRow, CatalogueRegion, CatalogueTheme, CatalogueRegionTheme, CatalogueSample):
            model.objects.filter(entry_id__in=ids).delete()
    entries = {
        pk: values
        for pk, *values in Entry.objects.filter(pk__in=ids, status=Status.READY).values_list(
            "pk", "published_on", "kind", "level", "title", "issuer", "summary"
        )
    }
    if entries:
        _index_rows(entries, ancestors, tokens)
    if counts:
        _counts_apply(_added(_contributions(list(entries)), before, sign=-1))
    return len(entries)


def _index_rows(entries, ancestors, tokens):
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
        entry_regions = sorted(regions.get(pk, ()))
        entry_themes = sorted(themes.get(pk, ()))
        provinces = [code for code in entry_regions if _is_province(code)]
        arrays = (_array_text(entry_regions), _array_text(provinces), _array_text(entry_themes))
        rows.append((pk, published_on, kind, level, sample_bucket(pk), tsvector_text(entry_tokens), *arrays))
        for code in entry_regions:
            region_rows.append((pk, code, _is_province(code), published_on, kind, level))
            for theme_id in entry_themes:
                pair_rows.append((pk, code, theme_id, _is_province(code), published_on, kind, level))
        for theme_id in entry_themes:
            theme_rows.append((pk, theme_id, published_on, kind, level))

    if connection.vendor == "postgresql":
        _copy_postgresql(rows, region_rows, theme_rows, pair_rows)
    else:
        CatalogueRow.objects.bulk_create(
            CatalogueRow(entry_id=pk, published_on=d, kind=k, level=lv) for pk, d, k, lv, *_rest in rows
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


def _copy_postgresql(rows, region_rows, theme_rows, pair_rows):
    """COPY the rows in (several times faster than INSERT at a million entries); the tsvector is built by
    PostgreSQL from the token text in one INSERT … SELECT."""
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS catalogue_tokens (entry_id bigint, published_on date, "
            "kind varchar(10), level varchar(10), sample smallint, tokens text, regions text, provinces text, "
            "themes text) ON COMMIT DELETE ROWS"
        )
        columns = "entry_id, published_on, kind, level, sample, tokens, regions, provinces, themes"
        with raw.copy(f"COPY catalogue_tokens ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            "INSERT INTO policies_cataloguerow (entry_id, published_on, kind, level, vector) "
            "SELECT entry_id, published_on, kind, level, strip(to_tsvector('simple', tokens)) "
            "FROM catalogue_tokens"
        )
        cursor.execute(
            "INSERT INTO policies_cataloguesample "
            "(entry_id, published_on, kind, level, sample, vector, regions, provinces, themes) "
            "SELECT entry_id, published_on, kind, level, sample, strip(to_tsvector('simple', tokens)), "
            "regions::int[], provinces::int[], themes::int[] FROM catalogue_tokens WHERE sample < %s ORDER BY sample",
            [SAMPLE_TABLE_BUCKETS],
        )
        # TRUNCATE, not DELETE: inside one long transaction (a bulk load) deleted rows would stay, to be scanned
        # again by every later batch
        cursor.execute("TRUNCATE catalogue_tokens")
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


def _array_text(values):
    """A PostgreSQL array literal for COPY: [1, 2] → {1,2}."""
    return "{" + ",".join(str(value) for value in values) + "}"


def catalogue_reindex_all(*, batch_size=20000, progress=None):
    """Rebuild the index tables for every entry (the ``reindex_catalogue`` command)."""
    models = (CatalogueSample, CatalogueRegionTheme, CatalogueTheme, CatalogueRegion, CatalogueRow)
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
        # not ``fresh``: an entry saved (and indexed) while this runs must not be inserted twice
        done += entries_reindex(entry_ids=ids[start : start + batch_size], counts=False)
        if progress:
            progress(done, len(ids))
    with transaction.atomic():
        catalogue_changed()
        catalogue_counts_refresh()
    return done


# --- The check: do the index tables equal a rebuild? ----------------------------------------------------

_SNAPSHOT_TABLES = (
    (CatalogueRow, ("published_on", "kind", "level", "vector")),
    (CatalogueRegion, ("region_id", "is_province", "published_on", "kind", "level")),
    (CatalogueTheme, ("theme_id", "published_on", "kind", "level")),
    (CatalogueRegionTheme, ("region_id", "theme_id", "is_province", "published_on", "kind", "level")),
    (CatalogueSample, ("sample", "vector", "regions", "provinces", "themes", "published_on", "kind", "level")),
)


def _snapshot(ids):
    """Entry id → every index row it has, as comparable values."""
    rows = {}
    for model, columns in _SNAPSHOT_TABLES:
        for entry_id, *values in model.objects.filter(entry_id__in=ids).values_list("entry_id", *columns):
            rows.setdefault(entry_id, []).append((model.__name__, *(str(value) for value in values)))
    return {entry_id: sorted(values) for entry_id, values in rows.items()}


@dataclass
class CheckResult:
    entries: list  # ids of entries whose index rows differ from a rebuild
    counts: list  # counts-table keys (``_COUNT_KEY``) whose number differs from the index tables

    @property
    def ok(self):
        return not self.entries and not self.counts


def catalogue_check(*, batch_size=BATCH):
    """Compare the index tables with a rebuild, without changing them: each batch of entries is rebuilt by
    the very code that indexes them (``_reindex_batch``) inside a transaction that is then rolled back. Then
    the counts table is compared with what the index tables add up to."""
    ids = set(Entry.objects.filter(status=Status.READY).values_list("pk", flat=True))
    for model, _columns in _SNAPSHOT_TABLES:
        ids.update(model.objects.values_list("entry_id", flat=True).distinct())
    ids = sorted(ids)
    ancestors = _Ancestors()
    differing = []
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        with transaction.atomic():
            before = _snapshot(batch)
            _reindex_batch(batch, ancestors, None, False, False)
            after = _snapshot(batch)
            transaction.set_rollback(True)
        differing.extend(pk for pk in batch if before.get(pk) != after.get(pk))
    sql, params = _count_select()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        expected = {
            (_as_date(month), region, theme, bool(province), kind, level): n
            for month, region, theme, province, kind, level, n in cursor.fetchall()
        }
    stored = {}
    for row in CatalogueCount.objects.all():
        key = tuple(getattr(row, name) for name in _COUNT_KEY)
        stored[key] = stored.get(key, 0) + row.entries
    counts = sorted((key for key in expected.keys() | stored.keys() if expected.get(key) != stored.get(key)), key=str)
    return CheckResult(entries=differing, counts=counts)
