"""Reads of the alerts. An alert's entries are the library page's list for its saved filter, restricted to
the entries that became ready in a window: the same ``Criteria`` and the same ``library.selectors`` query
(``Criteria.ready_after`` / ``ready_until``), so an alert never disagrees with the page."""

import datetime
from dataclasses import replace

from django.http import QueryDict
from django.utils import timezone

from alerts.models import AlertMailEntry
from library.filters import LibraryFilter
from library.selectors import entries_with_tags, listed_entries, rows_slice

FEED_DAYS = 30  # the feed lists what became ready in the last 30 days …
FEED_LIMIT = 50  # … at most this many entries, newest first as on the page
MAX_ENTRIES = 5000  # one mail records at most this many entries; the rest go in the next one


def saved_filter_criteria(saved_filter):
    """The saved filter's query read exactly as the library page reads it (``LibraryFilter``), newest first
    (relevance ranks only within a window of the newest matches: an alert lists every new match)."""
    return replace(LibraryFilter(QueryDict(saved_filter.query)).criteria(), sort="newest")


def window_entry_ids(saved_filter, *, after, until, limit=MAX_ENTRIES):
    """The ids of the entries the library page shows for ``saved_filter`` that became ready in
    ``(after, until]``, in the page's order (newest first)."""
    criteria = replace(saved_filter_criteria(saved_filter), ready_after=after, ready_until=until)
    return [pk for _day, pk in rows_slice(criteria, limit=limit)]


def window_start(alert):
    """Where an alert's next window starts: its last window's end, less a grace period, so an entry marked
    ready in a transaction that committed (or was indexed) after that run still comes in; never before the
    alert was switched on. What an earlier mail carried is left out by its record, not by the window."""
    from django.conf import settings

    grace = datetime.timedelta(seconds=settings.ALERTS_GRACE)
    start = alert.since
    if alert.checked_until is not None:
        start = max(start, alert.checked_until - grace)
    return start


def new_entry_ids(alert, *, until):
    """The entries the alert has yet to announce, as of ``until``: the window's list less what it sent."""
    found = window_entry_ids(alert.saved_filter, after=window_start(alert), until=until)
    if not found:
        return []
    sent = set(AlertMailEntry.objects.filter(alert=alert, entry_id__in=found).values_list("entry_id", flat=True))
    return [pk for pk in found if pk not in sent]


def feed_entries(saved_filter, *, now=None):
    """What a saved filter's feed shows: the page's list restricted to the last ``FEED_DAYS`` days of ready
    entries, at most ``FEED_LIMIT``, with their tags."""
    now = now or timezone.now()
    ids = window_entry_ids(saved_filter, after=now - datetime.timedelta(days=FEED_DAYS), until=now, limit=FEED_LIMIT)
    return entries_with_tags(ids)


def mail_entry_ids(mail, *, limit=None):
    """A recorded mail's entry ids, in the order it listed them."""
    items = AlertMailEntry.objects.filter(mail=mail).order_by("position").values_list("entry_id", flat=True)
    return list(items[:limit] if limit else items)


def mail_listed_entries(mail):
    """A recorded mail's entries as the library lists them (its page)."""
    return listed_entries(mail_entry_ids(mail))


def mail_entries(mail, *, limit=None, loaded=None):
    """A recorded mail's entries, in the order it listed them, with their tags. ``loaded`` (entry id → entry,
    filled as it goes) keeps the entries of a run: the mails of one run list mostly the same few hundred new
    entries, each read once instead of once per mail."""
    ids = mail_entry_ids(mail, limit=limit)
    if loaded is None:
        return entries_with_tags(ids)
    missing = [pk for pk in ids if pk not in loaded]
    if missing:
        loaded.update((entry.pk, entry) for entry in entries_with_tags(missing))
    return [loaded[pk] for pk in ids if pk in loaded]
