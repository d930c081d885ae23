"""The weekly 快讯: besides the monthly digest, a subscriber may ask (``Subscriber.weekly``) for the new library
entries matching their provinces and themes, every Monday at 08:00 (Asia/Shanghai, ``dgd/celery.py``).

A kind of mail of the generic engine (``mailings``): one batch per weekly slot, made once, with one message per
subscriber who has something new — the entries are chosen when the batch is made and kept in the message, so a
message sent again after a crash is the same mail. "New" is what became ready in the library between the
previous 快讯's slot and this one (``ready_at``, the alerts' rule), found by the library's own query
(``library.selectors``, ``Criteria.ready_after`` / ``ready_until``); nothing new, no mail."""

import datetime
from dataclasses import replace

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from library.selectors import Criteria, entries_with_tags, rows_slice
from mailings.kinds import Kind, Outgoing, Recipient, register
from mailings.models import Batch, Message
from mailings.schedule import latest_weekly_slot
from mailings.services import batch_open
from policies.models import Entry
from subscribers.digests import absolute, unsubscribe_headers
from subscribers.models import Subscriber
from subscribers.tokens import manage_token, weekly_token

KIND = "weekly"
MAIL_LIMIT = 50  # entries listed in one 快讯; the rest are counted
MAX_ENTRIES = 5000


def weekly_entry_ids(*, provinces, themes, after, until, limit=MAX_ENTRIES):
    """The ids of the entries that became ready in ``(after, until]`` and concern one of ``provinces`` (a city
    counts for its province) or carry one of ``themes`` — the digest's rule — newest first as on the library
    page. Each facet is the library's own query; none chosen means every new entry."""
    window = Criteria(ready_after=after, ready_until=until)
    facets = [replace(window, regions=tuple(provinces))] if provinces else []
    facets += [replace(window, themes=tuple(themes))] if themes else []
    rows = set()
    for criteria in facets or [window]:
        rows.update(rows_slice(criteria, limit=limit))
    return [pk for _day, pk in sorted(rows, reverse=True)][:limit]


def _window(batch):
    params = batch.params
    return datetime.datetime.fromisoformat(params["after"]), datetime.datetime.fromisoformat(params["until"])


def _sent_before(batch):
    """``{recipient: entry ids}`` the previous 快讯 listed: the window looks back past its end, and what it
    listed is not listed again."""
    previous = Message.objects.filter(batch_id=batch.params.get("previous"))
    return {recipient: set(payload["entries"]) for recipient, payload in previous.values_list("recipient", "payload")}


def weekly_recipients(batch):
    """Every confirmed subscriber who chose the 快讯 and has something new, with what is new for them (one
    library query per distinct choice of provinces and themes, not per subscriber)."""
    after, until = _window(batch)
    sent = _sent_before(batch)
    found = {}
    subscribers = Subscriber.objects.weekly_readers().prefetch_related("provinces", "themes").order_by("pk")
    for subscriber in subscribers:
        key = (
            tuple(sorted(region.code for region in subscriber.provinces.all())),
            tuple(sorted(theme.pk for theme in subscriber.themes.all())),
        )
        if key not in found:
            found[key] = weekly_entry_ids(provinces=key[0], themes=key[1], after=after, until=until)
        listed = sent.get(str(subscriber.pk), ())
        ids = [pk for pk in found[key] if pk not in listed]
        if ids:
            payload = {"entries": ids[:MAIL_LIMIT], "count": len(ids)}
            yield Recipient(key=str(subscriber.pk), email=subscriber.email, payload=payload)


def weekly_links(subscriber_id):
    token = weekly_token(subscriber_id)
    return {
        "manage": absolute(reverse("subscribers:manage", args=[manage_token(subscriber_id)])),
        "weekly_off": absolute(reverse("subscribers:weekly_off", args=[token])),
        "token": token,
    }


def weekly_prepare(batch, messages):
    """Per chunk: each message's context and RFC 8058 headers, or why it is no longer sent (the subscriber left
    or switched the 快讯 off since the batch was made)."""
    after, until = _window(batch)
    subscribers = Subscriber.objects.in_bulk([int(message.recipient) for message in messages])
    listed_ids = {pk for message in messages for pk in message.payload["entries"]}
    still_ready = Entry.objects.ready().filter(pk__in=listed_ids).values_list("pk", flat=True)  # none sent back since
    entries = {entry.pk: entry for entry in entries_with_tags(list(still_ready))}
    prepared = {}
    for message in messages:
        subscriber = subscribers.get(int(message.recipient))
        if subscriber is None or not subscriber.is_confirmed:
            prepared[message.pk] = "unsubscribed"
            continue
        if not subscriber.weekly:
            prepared[message.pk] = "weekly off"
            continue
        listed = [entries[pk] for pk in message.payload["entries"] if pk in entries]
        if not listed:
            prepared[message.pk] = "nothing new"
            continue
        links = weekly_links(subscriber.pk)
        context = {
            "name": subscriber.name,
            "entries": listed,
            "count": message.payload["count"],
            "more": message.payload["count"] - len(listed),
            "after": timezone.localtime(after),
            "until": timezone.localtime(until),
            "manage_url": links["manage"],
            "weekly_off_url": links["weekly_off"],
            "publisher": settings.DGD_PUBLISHER,
        }
        headers = unsubscribe_headers(unsubscribe_url=links["weekly_off"], token=links["token"], action="weekly-off")
        prepared[message.pk] = Outgoing(context=context, headers=headers)
    return prepared


WEEKLY = register(
    Kind(name=KIND, templates="email/subscribers/weekly", recipients=weekly_recipients, prepare=weekly_prepare)
)


def weekly_window(*, now):
    """``(key, params)`` of the latest weekly slot at or before ``now``: the window ends at the slot and starts
    where the previous 快讯's ended (a week before the slot for the first one), less the alerts' look-back
    (``ALERTS_GRACE``): an entry whose ``ready_at`` lies before the slot but whose transaction committed after
    it still comes in; what the previous 快讯 listed stays out by its record (``_sent_before``)."""
    until = latest_weekly_slot(now)
    key = until.date().isoformat()
    previous = Batch.objects.filter(kind=KIND, key__lt=key).order_by("-key").first()
    after = datetime.datetime.fromisoformat(previous.params["until"]) if previous else until - datetime.timedelta(7)
    after = min(after - datetime.timedelta(seconds=settings.ALERTS_GRACE), until)
    params = {"after": after.isoformat(), "until": until.isoformat(), "previous": previous.pk if previous else None}
    return key, params


def weekly_send(*, now=None, dry_run=False):
    """What the Monday schedule runs (and ``manage.py send_weekly``): the batch of the latest slot, made once;
    a second run in the same week makes nothing. With ``dry_run``, ``{subscriber id: entries}`` of who would get
    one (nothing is written). Returns ``(batch or None, messages made)`` otherwise."""
    key, params = weekly_window(now=now or timezone.now())
    if dry_run:
        recipients = weekly_recipients(Batch(kind=KIND, key=key, params=params))
        return {int(recipient.key): recipient.payload["count"] for recipient in recipients}
    return batch_open(kind=KIND, key=key, params=params)
