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

Keyword search (docs/library.md, "Keyword search"): each entry's issuing body, title, summary and 文号 are
normalised into one ``search_text`` (NFKC, lower case, letters and digits only: punctuation and spaces go, so
“免证办”实施方案 reads 免证办实施方案 and 苏政办发〔2022〕55号 reads 苏政办发202255号). The index holds every
two-character run of that text (and its last character) as lexemes of a tsvector (GIN), and the text itself
(trigram GIN). A query is normalised the same way and segmented with jieba in precise mode, with the domain
dictionary ``jieba_dict.txt`` (一网通办, 跨省通办 …), into words that must each occur in the text: a word of
one or two characters through the tsvector, a longer one through ``LIKE`` on the text. Whatever jieba makes of
the query, a query that occurs in the normalised text is found.
"""

import datetime
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Left

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
_NOT_SEARCHED = re.compile(r"[\W_]+")  # what normalising drops: all but letters and digits (CJK included)
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

                # jieba sets its logger to DEBUG when imported, whatever LOGGING says: quiet its "Building prefix
                # dict…" lines (once per process, on stderr and again through the root logger).
                jieba.setLogLevel(logging.WARNING)
                instance = jieba.Tokenizer()
                instance.load_userdict(str(DICTIONARY))
                _tokenizer = instance
    return _tokenizer


def normalized(text):
    """``text`` as search compares it: NFKC (full-width letters and digits become ASCII), lower case, and only
    letters and digits, every other character (punctuation, quotes, brackets, spaces, ``**`` markup) dropped."""
    return _NOT_SEARCHED.sub("", unicodedata.normalize("NFKC", text or "").lower())


# How much of an entry's full text (the original document, ``Entry.full_text``) is searched: its first
# FULL_TEXT_SEARCHED letters and digits, read from the first FULL_TEXT_READ characters stored. A notice states its
# purpose, targets and main tasks first; the cap keeps every row's text, lexemes and trigrams bounded, so the
# library's search stays as fast at a million entries (docs/library.md, "What is searched").
FULL_TEXT_SEARCHED = 3000
FULL_TEXT_READ = 4000


def search_text(*, title, issuer, summary, doc_number, full_text=""):
    """The one normalised text an entry is searched in: issuing body, title, summary and 文号, in that order and
    run together, so the displayed title (issuing body《title》) and a phrase across two fields are found too;
    then the opening of the original's full text, when the entry has one."""
    fields = "".join(normalized(part) for part in (issuer, title, summary, doc_number))
    return fields + normalized((full_text or "")[:FULL_TEXT_READ])[:FULL_TEXT_SEARCHED]


def index_tokens(text):
    """The lexemes a text is indexed under: every two-character run of its normalised form, and its last
    character (so a one-character query, a prefix of the lexemes, finds it at the very end too)."""
    text = normalized(text)
    return _text_tokens(text)


def _text_tokens(text):
    """``index_tokens`` of a text already normalised."""
    tokens = set(map(str.__add__, text, text[1:]))
    if text:
        tokens.add(text[-1])
    return tokens


def query_phrases(text):
    """The query's phrases: its space-separated parts, normalised (what phrase-first ranking and highlighting
    look for whole)."""
    phrases = []
    for part in (text or "").split():
        phrase = normalized(part)
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    return phrases


def query_tokens(text):
    """The words a keyword query must all match, each a piece of one of its normalised phrases: jieba's precise
    segmentation, so a domain term stays one word (一网通办 does not match every 网 and 办), a single character
    joined to the word after it (or before it, at the end), so 苏政办发〔2022〕55号 asks for 苏政办发 and 202255号.
    Each word is a substring of its phrase: an entry that holds the phrase holds every word."""
    tokens = []
    for phrase in query_phrases(text):
        words, carry = [], ""
        for word in tokenizer().cut(phrase, HMM=False):
            word, carry = carry + word, ""
            if len(word) == 1:
                carry = word
            else:
                words.append(word)
        if carry:
            if words:
                words[-1] += carry
            else:
                words.append(carry)
        tokens.extend(word for word in words if word not in tokens)
    return tokens


def tsquery_text(word):
    """The tsquery (PostgreSQL's own syntax, cast as is) that the index's lexemes answer for ``word``: one
    character, a prefix of the lexemes; two, the lexeme; longer, all its two-character runs (a superset of the
    entries holding it: ``LIKE`` on ``search_text`` makes it exact where that column exists)."""
    quoted = "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
    if len(word) == 1:
        return quoted + ":*"
    if len(word) == 2:
        return quoted
    return " & ".join(tsquery_text(word[i : i + 2]) for i in range(len(word) - 1))


def entry_search_text(title, issuer, summary):
    return "\n".join([title or "", issuer or "", summary or ""])


def _tokens_literal(tokens: Iterable[str]):
    """Tokens as a PostgreSQL text[] literal for COPY (letters and digits only: nothing to quote)."""
    return "{" + ",".join(sorted(tokens)) + "}"


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

    ``tokens`` is accepted from older bulk loaders and ignored: the lexemes are every two-character run of the
    whole normalised text (``index_tokens``), cheap to compute, and a union of per-sentence sets would miss the
    runs across two sentences. ``fresh`` skips deleting old rows when the caller knows there are none (an empty
    catalogue); ``counts=False`` leaves the counts table to a bulk loader that rebuilds it once at the end
    (``catalogue_counts_refresh()``). Returns the number of entries indexed (ready ones).
    """
    ids = sorted(set(entry_ids))
    pending = getattr(_local, "pending", None)
    if pending is not None:
        pending.ids.difference_update(ids)
    ancestors = _Ancestors()
    indexed = 0
    for start in range(0, len(ids), BATCH):
        indexed += _reindex_batch(ids[start : start + BATCH], ancestors, fresh, counts)
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
def _reindex_batch(ids, ancestors, fresh, counts):
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
            "pk",
            "published_on",
            "kind",
            "level",
            "title",
            "issuer",
            "summary",
            "doc_number",
            Left("full_text", FULL_TEXT_READ),
        )
    }
    if entries:
        _index_rows(entries, ancestors)
    if counts:
        _counts_apply(_added(_contributions(list(entries)), before, sign=-1))
    return len(entries)


def _index_rows(entries, ancestors):
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
    for pk, (published_on, kind, level, title, issuer, summary, doc_number, full_text) in entries.items():
        text = search_text(title=title, issuer=issuer, summary=summary, doc_number=doc_number, full_text=full_text)
        entry_regions = sorted(regions.get(pk, ()))
        entry_themes = sorted(themes.get(pk, ()))
        provinces = [code for code in entry_regions if _is_province(code)]
        arrays = (_array_text(entry_regions), _array_text(provinces), _array_text(entry_themes))
        rows.append(
            (pk, published_on, kind, level, sample_bucket(pk), text, _tokens_literal(_text_tokens(text)), *arrays)
        )
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
            CatalogueRow(entry_id=pk, published_on=d, kind=k, level=lv, search_text=text)
            for pk, d, k, lv, _sample, text, *_rest in rows
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
    PostgreSQL from the tokens (a text[] literal: each a lexeme as it is, no parser) in one INSERT … SELECT."""
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS catalogue_tokens (entry_id bigint, published_on date, "
            "kind varchar(10), level varchar(10), sample smallint, search_text text, tokens text, regions text, "
            "provinces text, themes text) ON COMMIT DELETE ROWS"
        )
        columns = "entry_id, published_on, kind, level, sample, search_text, tokens, regions, provinces, themes"
        with raw.copy(f"COPY catalogue_tokens ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            "INSERT INTO policies_cataloguerow (entry_id, published_on, kind, level, search_text, vector) "
            "SELECT entry_id, published_on, kind, level, search_text, array_to_tsvector(tokens::text[]) "
            "FROM catalogue_tokens"
        )
        cursor.execute(
            "INSERT INTO policies_cataloguesample "
            "(entry_id, published_on, kind, level, sample, vector, regions, provinces, themes, issuer) "
            "SELECT t.entry_id, t.published_on, t.kind, t.level, t.sample, array_to_tsvector(t.tokens::text[]), "
            "t.regions::int[], t.provinces::int[], t.themes::int[], e.issuer FROM catalogue_tokens t "
            "JOIN policies_entry e ON e.id = t.entry_id WHERE t.sample < %s ORDER BY t.sample",
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
    (CatalogueRow, ("published_on", "kind", "level", "search_text", "vector")),
    (CatalogueRegion, ("region_id", "is_province", "published_on", "kind", "level")),
    (CatalogueTheme, ("theme_id", "published_on", "kind", "level")),
    (CatalogueRegionTheme, ("region_id", "theme_id", "is_province", "published_on", "kind", "level")),
    (
        CatalogueSample,
        ("sample", "vector", "regions", "provinces", "themes", "published_on", "kind", "level", "issuer"),
    ),
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
            _reindex_batch(batch, ancestors, False, False)
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
