"""Is this item a policy we already know? One index per poll run over the recent candidates and catalogue entries.

Three rules, strongest first:

1. the same page: the canonical URL (``sources.text.url_key``) of a sighting or of an entry's source link;
2. the same 文号 (``doc_number_key``): two documents with different 文号 are never the same policy;
3. a near-duplicate: MinHash (datasketch) over character bigrams of the title, queried through an LSH index,
   then checked exactly — the same title once the issuer prefix, 《》 and punctuation are set aside, titles
   this close (Jaccard ≥ ``TITLE_SAME``), or close titles (≥ ``TITLE_CLOSE``) over texts this close
   (MinHash estimate ≥ ``TEXT_SAME``): a provincial portal and its 政务服务 office reprint the same notice
   under slightly different headings.
"""

import datetime
import re

import numpy as np
from datasketch import MinHash, MinHashLSH
from django.utils import timezone

from policies.models import Entry, Kind
from sources import conf
from sources.models import Candidate, Sighting
from sources.text import doc_number_key, split_title, url_key

NUM_PERM = 64
SEED = 20260
TITLE_SAME = 0.85
TITLE_CLOSE = 0.5
TEXT_SAME = 0.8


def title_core(title):
    """A title without its issuer prefix, 《》, punctuation and blanks: what two reprints share."""
    _issuer, _action, core = split_title(title)
    return re.sub(r"[\W_]+", "", core)


def bigrams(text):
    text = re.sub(r"[\W_]+", "", text or "")
    if len(text) < 2:
        return {text} if text else set()
    return {text[i : i + 2] for i in range(len(text) - 1)}


_PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32").permutations  # made once: they cost


def minhash(shingles):
    sketch = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32", permutations=_PERMUTATIONS)
    if shingles:
        sketch.update_batch([s.encode("utf-8") for s in shingles])
    return sketch


def fingerprint_bytes(text):
    """The stored MinHash of a main text (empty for a text too short to compare)."""
    if len(text or "") < 100:
        return b""
    return np.asarray(minhash(bigrams(text[:20000])).hashvalues, dtype=np.uint32).tobytes()


def fingerprint_load(data):
    if not data:
        return None
    values = np.frombuffer(bytes(data), dtype=np.uint32)
    return MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32", hashvalues=values, permutations=_PERMUTATIONS)


def jaccard(a, b):
    return len(a & b) / len(a | b) if a and b else 0.0


class Known:
    """What the index holds of a candidate or an entry."""

    __slots__ = ("doc_key", "key", "text", "title", "title_set")

    def __init__(self, key, title, doc_key, text=None):
        self.key = key
        self.title = title_core(title)
        self.title_set = bigrams(self.title)
        self.doc_key = doc_key
        self.text = text


class Deduper:
    """The index of one poll run. ``match`` answers (candidate id, entry id) for an item; ``add`` records a
    candidate created during the run so that its reprint on the next source matches it."""

    def __init__(self, *, today=None):
        today = today or timezone.localdate()
        since = today - datetime.timedelta(days=conf.get("SOURCES_DEDUP_DAYS"))
        self.lsh = MinHashLSH(threshold=TITLE_CLOSE, num_perm=NUM_PERM)
        self.known = {}
        self.by_doc = {}
        self.entry_urls = {}
        entries = (
            Entry.objects.filter(kind=Kind.POLICY, published_on__gte=since)
            .order_by()
            .values_list("pk", "title", "doc_number", "source_url")
        )
        for pk, title, doc_number, source_url in entries.iterator(chunk_size=2000):
            self._index(Known(f"e{pk}", title, doc_number_key(doc_number)))
            if source_url:
                self.entry_urls.setdefault(url_key(source_url), pk)
        self.since = since
        self.last_candidate = 0
        self.catch_up()

    def catch_up(self):
        """Index the candidates stored since the index last looked, by this run or by another one polling
        another host at the same time (each Celery task has an index of its own)."""
        candidates = (
            Candidate.objects.filter(pk__gt=self.last_candidate, found_at__date__gte=self.since)
            .order_by("pk")
            .values_list("pk", "title", "doc_key", "fingerprint")
        )
        for pk, title, doc_key, data in candidates.iterator(chunk_size=2000):
            self._index(Known(f"c{pk}", title, doc_key, fingerprint_load(data)))
            self.last_candidate = pk

    def _index(self, known):
        self.known[known.key] = known
        if known.doc_key:
            self.by_doc.setdefault(known.doc_key, set()).add(known.key)
        if known.title_set and known.key not in self.lsh:
            self.lsh.insert(known.key, minhash(known.title_set))

    def add(self, candidate):
        self._index(
            Known(f"c{candidate.pk}", candidate.title, candidate.doc_key, fingerprint_load(candidate.fingerprint))
        )

    def match(self, *, url, title, doc_number="", fingerprint=b""):
        """(candidate id or None, entry id or None) the item is a duplicate of."""
        self.catch_up()
        item = Known("item", title, doc_number_key(doc_number), fingerprint_load(fingerprint))
        keys = set()
        sighting = Sighting.objects.filter(url_key=url_key(url)).values_list("candidate_id", flat=True).first()
        if sighting:
            keys.add(f"c{sighting}")
        entry_by_url = self.entry_urls.get(url_key(url))
        if entry_by_url:
            keys.add(f"e{entry_by_url}")
        if item.doc_key:
            keys |= self.by_doc.get(item.doc_key, set())
        if item.title_set:
            for key in self.lsh.query(minhash(item.title_set)):
                if self._same(item, self.known[key]):
                    keys.add(key)
        candidate = min((int(k[1:]) for k in keys if k.startswith("c")), default=None)
        entry = min((int(k[1:]) for k in keys if k.startswith("e")), default=None)
        return candidate, entry

    @staticmethod
    def _same(item, known):
        if item.doc_key and known.doc_key and item.doc_key != known.doc_key:
            return False
        if item.title and item.title == known.title:
            return True
        similarity = jaccard(item.title_set, known.title_set)
        if similarity >= TITLE_SAME:
            return True
        if similarity >= TITLE_CLOSE and item.text is not None and known.text is not None:
            return item.text.jaccard(known.text) >= TEXT_SAME
        return False
