"""Writes of the inbox: polling sources into candidates, taking or ignoring candidates, loading sources.

The admin, the commands and the Celery tasks call these; every write a person makes is checked here against
their permissions (``PermissionDenied``), not only by the buttons the admin shows.
"""

import datetime
import json
import logging
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from policies.gazetteer import Gazetteer, suggest_regions
from policies.models import Entry, Kind, Level, Region, Theme, proxy_for_kind
from policies.safety import is_safe_url
from sources import conf
from sources.dedup import Deduper, fingerprint_bytes
from sources.fetching import Fetcher, FetchError
from sources.models import Candidate, CandidateStatus, Decision, Sighting, Source, SourceKind
from sources.parsing import SelectorError, parse_detail, parse_feed, parse_list
from sources.text import (
    DOC_NUMBER,
    ascii_digits,
    canonical_url,
    doc_number_key,
    find_issuer,
    parse_date,
    parse_doc_number,
    parse_issued_on,
    split_title,
    suggest_level,
    summary_draft,
    url_key,
)

logger = logging.getLogger(__name__)

# --- reading a source ------------------------------------------------------------------------------------


def source_read(*, source, fetcher, conditional=True, known=None):
    """The items a source lists now, or ``None`` when it answers 304 Not Modified; and the validators to
    store (ETag, Last-Modified). A list page is followed to its next pages (at most ``max_pages``) while a
    page still holds an item ``known`` (a set of URL keys already seen) does not."""
    page = fetcher.get(
        source.url, etag=source.etag if conditional else "", last_modified=source.last_modified if conditional else ""
    )
    validators = {"etag": page.headers.get("etag", "")[:300], "last_modified": page.headers.get("last-modified", "")}
    if page.not_modified:
        return None, validators
    if source.kind == SourceKind.FEED:
        return parse_feed(page.content, page.url), validators
    items, pages = [], 1
    while True:
        found, next_url = parse_list(
            page.text,
            page.url,
            item=source.item_selector,
            title=source.title_selector,
            link=source.link_selector,
            date=source.date_selector,
            next_page=source.next_selector,
        )
        items += found
        all_known = known is not None and found and all(url_key(i.url) in known for i in found)
        if not next_url or pages >= source.max_pages or all_known:
            return items, validators
        page = fetcher.get(next_url)
        pages += 1


def source_preview(*, source, by):
    """What the source's selectors extract from the live page now (for its admin page): items, or an error."""
    if not by.has_perm("sources.change_source"):
        raise PermissionDenied(_("You may not change watched sources."))
    with Fetcher() as fetcher:
        try:
            items, _validators = source_read(source=source, fetcher=fetcher, conditional=False)
        except (FetchError, SelectorError, ValueError) as error:
            return [], str(error)
    return items or [], ""


# --- a candidate out of an item --------------------------------------------------------------------------


@dataclass
class Draft:
    """A candidate as read from an item and its detail page, before it is stored."""

    title: str
    url: str
    published_on: datetime.date | None
    issued_on: datetime.date | None
    issuer: str
    doc_number: str
    level: str
    regions: list
    themes: list
    summary: str
    text: str
    fingerprint: bytes = b""


def own_doc_number(title, text):
    """A page's own 文号: one in its title, else one standing on a line of its own near the top (below the
    title, as documents print it), else the first in its opening lines (a text also cites other 文号 later)."""
    found = parse_doc_number(title)
    if found:
        return found
    lines = [line.strip() for line in (text or "").splitlines()[:40] if line.strip()]
    for line in lines:
        if len(line) <= 40 and DOC_NUMBER.search(ascii_digits(line)) and not line.endswith(("。", "；")):
            return parse_doc_number(line)
    return parse_doc_number("\n".join(lines[:15]))


def draft_from(*, item, source, text="", page_title="", page_date=None, themes=None, gazetteer=None):
    """Read an item (and its detail page's text) into a ``Draft``: 文号, issuer, dates, level, regions, themes,
    summary. ``themes`` (the vocabulary) and ``gazetteer`` (the region names, ``policies.gazetteer``) are read
    once per poll run; without them, each call reads them again."""
    title = item.title or page_title
    title_issuer, _action, _core = split_title(title)
    issuer = title_issuer or find_issuer(text) or source.issuer or source.name
    level = suggest_level_for(issuer, source)
    summary = summary_draft(text, title=title) or summary_draft(item.summary, title=title) or item.summary[:300]
    within = [source.region_id] if source.region_id and level not in (Level.NATIONAL, Level.MINISTRY) else []
    named = f"{title}\n{title_issuer or find_issuer(text)}"
    regions = gazetteer.suggest(named, within) if gazetteer else suggest_regions(named, within=within)
    vocabulary = themes if themes is not None else Theme.objects.all()
    suggestion_text = "\n".join([title, issuer, summary])
    return Draft(
        title=title[:500],
        url=canonical_url(item.url),
        published_on=item.date or page_date or parse_date_near_top(text),
        issued_on=parse_issued_on(text),
        issuer=issuer[:200],
        doc_number=own_doc_number(title, text)[:100],
        level=level,
        regions=regions,
        themes=vocabulary.suggested_for(suggestion_text),
        summary=summary,
        text=text,
        fingerprint=fingerprint_bytes(text),
    )


def suggest_level_for(issuer, source):
    return suggest_level(issuer, source.level)


def parse_date_near_top(text):
    """A 发布日期 in the opening lines of a page, when the list gave none."""
    for line in (text or "").splitlines()[:15]:
        if "日期" in line or "时间" in line:
            found = parse_date(line)
            if found:
                return found
    return None


def candidate_store(*, draft, source, deduper, item_title=""):
    """Store a draft: as a new sighting of the candidate it duplicates, or as a new candidate (marked as the
    duplicate of a catalogue entry it matches). Returns (candidate, created)."""
    key = url_key(draft.url)
    with transaction.atomic():
        _lock_the_inbox()
        candidate_id, entry_id = deduper.match(
            url=draft.url, title=draft.title, doc_number=draft.doc_number, fingerprint=draft.fingerprint
        )
        if candidate_id:
            candidate = Candidate.objects.select_for_update().get(pk=candidate_id)
            _merge_into(candidate, draft, entry_id)
            created = False
        else:
            candidate = Candidate.objects.create(
                title=draft.title,
                url=draft.url,
                published_on=draft.published_on,
                issued_on=draft.issued_on,
                issuer=draft.issuer,
                doc_number=draft.doc_number,
                doc_key=doc_number_key(draft.doc_number),
                level=draft.level,
                summary=draft.summary,
                text=draft.text,
                fingerprint=draft.fingerprint,
                status=CandidateStatus.DUPLICATE if entry_id else CandidateStatus.NEW,
                duplicate_of_id=entry_id,
            )
            _tag(candidate, "regions", draft.regions)
            _tag(candidate, "themes", draft.themes)
            created = True
        # A sighting another process stored meanwhile is there already (ignore_conflicts on the unique URL key).
        Sighting.objects.bulk_create(
            [Sighting(candidate=candidate, source=source, url=draft.url, url_key=key, title=item_title[:500])],
            ignore_conflicts=True,
        )
    if created:
        deduper.add(candidate)
    return candidate, created


def _tag(candidate, name, objects):
    """Tag a new candidate in one INSERT (``set`` would first read what it holds: nothing)."""
    if objects:
        field = Candidate._meta.get_field(name)
        through = field.remote_field.through
        target = f"{field.m2m_reverse_field_name()}_id"
        through.objects.bulk_create([through(candidate_id=candidate.pk, **{target: obj.pk}) for obj in objects])


# Any number; the same for every process storing candidates.
_INBOX_LOCK = 0x64676431


def _lock_the_inbox():
    """One store at a time until the transaction ends: two tasks polling two hosts side by side must not both
    create the policy they both found (the match reads what the other committed once it has the lock). On
    SQLite, the embedded single-process default, writes are serialised by the database itself."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_INBOX_LOCK])


def _merge_into(candidate, draft, entry_id):
    """A reprint found elsewhere fills what the candidate lacks (a 文号, a text, a date) and may reveal that it
    duplicates a catalogue entry."""
    changed = []
    for name in ("doc_number", "issued_on", "published_on", "text", "summary", "issuer"):
        if not getattr(candidate, name) and getattr(draft, name):
            setattr(candidate, name, getattr(draft, name))
            changed.append(name)
    if "doc_number" in changed:
        candidate.doc_key = doc_number_key(candidate.doc_number)
        changed.append("doc_key")
    if "text" in changed:
        candidate.fingerprint = draft.fingerprint
        changed.append("fingerprint")
    if entry_id and candidate.duplicate_of_id is None and candidate.status == CandidateStatus.NEW:
        candidate.duplicate_of_id = entry_id
        candidate.status = CandidateStatus.DUPLICATE
        changed += ["duplicate_of", "status"]
    if changed:
        candidate.save(update_fields=changed)


# --- polling ---------------------------------------------------------------------------------------------


@dataclass
class PollResult:
    source: Source
    status: str = ""
    error: str = ""
    new: list = field(default_factory=list)  # drafts (dry run) or candidates created
    reprints: int = 0  # items found to duplicate a known candidate
    seen: int = 0  # items whose URL was seen before
    capped: bool = False  # more new items than SOURCES_MAX_ITEMS: the rest are read at the next poll


def source_poll(*, source, fetcher, deduper, dry_run=False, themes=None, gazetteer=None):
    """Poll one source now: read its items, turn each unseen one into a candidate (its detail page fetched
    and read), and record the outcome on the source (status, error, next poll with exponential back-off after
    errors). ``dry_run`` reads and reports but stores nothing of the source's or the candidates'."""
    result = PollResult(source=source)
    now = timezone.now()
    try:
        known = set(Sighting.objects.filter(source=source).order_by("-pk").values_list("url_key", flat=True)[:5000])
        items, validators = source_read(source=source, fetcher=fetcher, conditional=True, known=known)
        if items is None:
            result.status = "304"
        else:
            _poll_items(
                items,
                source=source,
                fetcher=fetcher,
                deduper=deduper,
                result=result,
                dry_run=dry_run,
                vocabulary={"themes": themes, "gazetteer": gazetteer},
            )
            result.status = f"200 · {len(result.new)}"
    except (FetchError, SelectorError, ValueError) as error:
        result.error = str(error)
        result.status = getattr(error, "reason", type(error).__name__)
        if not dry_run:
            _record_failure(source, result, now)
        return result
    if not dry_run:
        source.last_polled_at = now
        source.last_status = result.status
        source.last_error = ""
        source.failures = 0
        source.next_poll_at = now + datetime.timedelta(minutes=source.interval)
        if items is not None:
            keep = not result.capped
            source.etag = validators["etag"] if keep else ""
            source.last_modified = validators["last_modified"] if keep else ""
        source.save(
            update_fields=[
                "last_polled_at",
                "last_status",
                "last_error",
                "failures",
                "next_poll_at",
                "etag",
                "last_modified",
            ]
        )
    return result


def _poll_items(items, *, source, fetcher, deduper, result, dry_run, vocabulary):
    keys = [url_key(item.url) for item in items]
    seen = set(Sighting.objects.filter(url_key__in=keys).values_list("url_key", flat=True))
    taken = 0
    for item, key in zip(items, keys, strict=True):
        if key in seen:
            result.seen += 1
            continue
        seen.add(key)
        if taken >= conf.get("SOURCES_MAX_ITEMS"):
            result.capped = True  # the rest next time: the page must not answer 304 then
            break
        taken += 1
        draft = _draft_with_detail(item, source=source, fetcher=fetcher, vocabulary=vocabulary)
        if dry_run:
            result.new.append(draft)
            continue
        candidate, created = candidate_store(draft=draft, source=source, deduper=deduper, item_title=item.title)
        if created:
            result.new.append(candidate)
        else:
            result.reprints += 1


def _draft_with_detail(item, *, source, fetcher, vocabulary):
    """The item with its detail page read; a page that cannot be read (robots.txt, an error) leaves the
    candidate with what the list said."""
    text, page_title, page_date = "", "", None
    try:
        page = fetcher.get(item.url)
        if "html" in page.headers.get("content-type", "text/html") or page.content.lstrip()[:1] == b"<":
            detail = parse_detail(page.text, page.url)
            text, page_title, page_date = detail.text, detail.title, detail.date
    except FetchError as error:
        logger.info("detail page not read: %s", error)
    return draft_from(item=item, source=source, text=text, page_title=page_title, page_date=page_date, **vocabulary)


def _record_failure(source, result, now):
    source.failures += 1
    backoff = min(source.interval * 60 * 2**source.failures, conf.get("SOURCES_MAX_BACKOFF"))
    source.last_polled_at = now
    source.last_status = result.status[:100]
    source.last_error = result.error
    source.next_poll_at = now + datetime.timedelta(seconds=backoff)
    source.save(update_fields=["last_polled_at", "last_status", "last_error", "failures", "next_poll_at"])


def sources_poll(*, source_ids=None, dry_run=False, fetcher=None):
    """Poll ``source_ids`` (any, enabled or not), or every enabled source that is due. Returns the results."""
    now = timezone.now()
    if source_ids is not None:
        sources = list(Source.objects.filter(pk__in=source_ids).select_related("region").order_by("pk"))
    else:
        sources = list(Source.objects.due(now).select_related("region"))
    deduper = Deduper()
    themes = Theme.objects.all()
    list(themes)  # the vocabulary, read once for every item of the run
    gazetteer = Gazetteer.load() if sources else None  # policies.gazetteer's index of region names, read once too
    own = fetcher is None
    fetcher = fetcher or Fetcher()
    try:
        return [
            source_poll(source=s, fetcher=fetcher, deduper=deduper, dry_run=dry_run, themes=themes, gazetteer=gazetteer)
            for s in sources
        ]
    finally:
        if own:
            fetcher.close()


def sources_poll_soon(*, sources, by):
    """Make sources due at the next tick of the schedule (the admin's action). Returns how many."""
    if not by.has_perm("sources.change_source"):
        raise PermissionDenied(_("You may not change watched sources."))
    now = timezone.now() - datetime.timedelta(seconds=1)
    return Source.objects.filter(pk__in=[s.pk for s in sources]).update(next_poll_at=now)


def sources_claim_due(*, now=None, lease_minutes=30):
    """The ids of the sources due now, grouped by host, each claimed (its next poll pushed back) so that the
    next tick does not queue it again while it is polled."""
    from sources.fetching import host_of

    now = now or timezone.now()
    by_host = {}
    with transaction.atomic():
        due = Source.objects.due(now).select_for_update(skip_locked=True)
        for source in due:
            by_host.setdefault(host_of(source.url), []).append(source.pk)
        ids = [pk for pks in by_host.values() for pk in pks]
        Source.objects.filter(pk__in=ids).update(next_poll_at=now + datetime.timedelta(minutes=lease_minutes))
    return by_host


# --- triage ----------------------------------------------------------------------------------------------


def _check_triage(by):
    if by is None or not by.has_perm("sources.change_candidate"):
        raise PermissionDenied(_("You may not triage candidates."))


def candidate_take(*, candidate, by):
    """收录: a draft policy entry pre-filled from the candidate (kind, title, issuer, verb, 文号, dates, level,
    regions, themes, source link, summary, the original's full text), recorded with who and when. Returns the entry."""
    _check_triage(by)
    proxy = proxy_for_kind(Kind.POLICY)
    if not by.has_perm(f"{proxy._meta.app_label}.add_{proxy._meta.model_name}"):
        raise PermissionDenied(_("You may not add policies."))
    with transaction.atomic():
        candidate = Candidate.objects.select_for_update().get(pk=candidate.pk)
        if candidate.status == CandidateStatus.TAKEN and candidate.entry_id:
            raise ValidationError(_("This candidate has been taken already."))
        issuer, action, title = split_title(candidate.title)
        entry = proxy(
            title=title[:300],
            issuer=(issuer or candidate.issuer)[:200],
            action=action,
            doc_number=candidate.doc_number,
            level=candidate.level,
            issued_on=candidate.issued_on,
            published_on=candidate.published_on or candidate.issued_on or timezone.localdate(),
            source_url=candidate.url if is_safe_url(candidate.url) else "",
            summary=candidate.summary,
            full_text=candidate.text,  # searched in the library once the entry is ready (its opening)
        )
        entry._history_user = by
        entry._change_reason = "taken from the inbox"
        entry.save()
        entry.regions.set(candidate.regions.all())
        entry.themes.set(candidate.themes.all())
        candidate.status = CandidateStatus.TAKEN
        candidate.entry = entry
        candidate.decided_by, candidate.decided_at, candidate.ignore_reason = by, timezone.now(), ""
        candidate.save(update_fields=["status", "entry", "decided_by", "decided_at", "ignore_reason"])
        Decision.objects.create(candidate=candidate, action=Decision.Action.TAKEN, by=by, entry=entry)
    return Entry.objects.get(pk=entry.pk)


def candidates_ignore(*, candidates, reason, by):
    """忽略: set candidates aside with a reason, recorded with who and when. Taken ones stay taken. Returns
    how many were ignored."""
    _check_triage(by)
    reason = (reason or "").strip()[:300]
    if not reason:
        raise ValidationError(_("Say why the candidates are ignored."))
    count = 0
    with transaction.atomic():
        ids = [c.pk for c in candidates]
        rows = Candidate.objects.select_for_update().filter(pk__in=ids).exclude(status=CandidateStatus.TAKEN)
        for candidate in rows.order_by("pk"):
            candidate.status = CandidateStatus.IGNORED
            candidate.decided_by, candidate.decided_at, candidate.ignore_reason = by, timezone.now(), reason
            candidate.save(update_fields=["status", "decided_by", "decided_at", "ignore_reason"])
            Decision.objects.create(candidate=candidate, action=Decision.Action.IGNORED, by=by, reason=reason)
            count += 1
    return count


def candidates_restore(*, candidates, by):
    """Put ignored candidates back in the queue (as suggested, or as duplicates of their entry)."""
    _check_triage(by)
    count = 0
    with transaction.atomic():
        rows = Candidate.objects.select_for_update().filter(
            pk__in=[c.pk for c in candidates], status=CandidateStatus.IGNORED
        )
        for candidate in rows.order_by("pk"):
            candidate.status = CandidateStatus.DUPLICATE if candidate.duplicate_of_id else CandidateStatus.NEW
            candidate.decided_by, candidate.decided_at, candidate.ignore_reason = by, timezone.now(), ""
            candidate.save(update_fields=["status", "decided_by", "decided_at", "ignore_reason"])
            Decision.objects.create(candidate=candidate, action=Decision.Action.RESTORED, by=by)
            count += 1
    return count


# --- loading sources -------------------------------------------------------------------------------------

_SELECTOR_FIELDS = {
    "item": "item_selector",
    "title": "title_selector",
    "link": "link_selector",
    "date": "date_selector",
    "next": "next_selector",
}


def sources_import(*, data, by=None):
    """Load sources from a JSON list (``[{"name", "url", "kind", "region", "level", "selectors": {…}}]``),
    idempotent by URL: a source already there is updated, its poll state kept. ``by`` is checked when given
    (a command runs as the system). Every row is checked before any is written. Returns (created, updated)."""
    if by is not None and not (by.has_perm("sources.add_source") and by.has_perm("sources.change_source")):
        raise PermissionDenied(_("You may not change watched sources."))
    rows = json.loads(data) if isinstance(data, str | bytes) else data
    if not isinstance(rows, list):
        raise ValidationError(_("Expected a JSON list of sources."))
    checked = [_source_fields(row, index) for index, row in enumerate(rows, start=1)]
    created = updated = 0
    with transaction.atomic():
        for url, fields in checked:
            _source, was_created = Source.objects.update_or_create(url=url, defaults=fields)
            created += was_created
            updated += not was_created
    return created, updated


def _source_fields(row, index):
    def fail(message):
        raise ValidationError(f"#{index}: {message}")

    if not isinstance(row, dict):
        fail("not an object")
    url = str(row.get("url") or "").strip()
    if not is_safe_url(url):
        fail(f"unsafe or missing url {url!r}")
    name = str(row.get("name") or "").strip()
    if not name:
        fail("missing name")
    kind = row.get("kind") or SourceKind.FEED
    if kind not in SourceKind.values:
        fail(f"kind must be feed or list, not {kind!r}")
    level = row.get("level") or ""
    if level not in ("", *Level.values):
        fail(f"unknown level {level!r}")
    region = row.get("region")
    if region is not None and not Region.objects.filter(pk=region).exists():
        fail(f"unknown region {region!r}")
    selectors = row.get("selectors") or {}
    if not isinstance(selectors, dict):
        fail("selectors must be an object")
    fields = {"name": name[:200], "kind": kind, "level": level, "region_id": region}
    for key, field_name in _SELECTOR_FIELDS.items():
        fields[field_name] = str(selectors.get(key) or "")[:200]
    if kind == SourceKind.LIST and not fields["item_selector"]:
        fail("a list page needs an item selector")
    for key in ("issuer", "interval", "enabled", "max_pages"):
        if key in row:
            fields[key] = row[key]
    return url, fields
