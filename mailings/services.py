"""The generic delivery engine (docs/delivery.md): any kind of mail, sent exactly once per (batch, recipient).

The database is the queue's truth; Redis only wakes workers. ``batch_open`` makes a batch and all its messages
in one transaction (a second call for the same (kind, key) makes nothing). A chunk task claims due pending
messages under a lease it renews while sending, marks each one sent the moment the SMTP server accepted it,
retries 4xx replies and dropped connections with backoff, and queues a successor while due rows remain. The
periodic check (``messages_check``) puts back the rows of a lease that ran out and queues tasks again for a
batch whose tasks were lost. Every task may run twice: a claim takes only pending rows.

The issue digests keep their own tuned rows and sender (``subscribers.services``: pre-rendered groups, pipelined
marks) on the same design; this engine serves every other batch."""

import logging
import time
from collections import defaultdict
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F
from django.template.loader import get_template
from django.utils import timezone

from mailings import queue
from mailings.kinds import kind_of
from mailings.models import Batch, DeliveryStatus, Message
from mailings.queue import ChunkResult, Queue
from mailings.transport import classify_error, is_disconnect, smtp_timeout

logger = logging.getLogger(__name__)

DB_ERRORS = (OperationalError, InterfaceError)


def batch_open(*, kind, key, params=None, now=None):
    """Make the batch ``(kind, key)`` with one message per recipient the kind lists, in one transaction, and
    queue its chunk tasks once it commits. Idempotent: when the batch exists, nothing is made. Returns
    ``(batch, messages made)``."""
    now = now or timezone.now()
    with transaction.atomic():
        batch, made = Batch.objects.get_or_create(kind=kind, key=key, defaults={"params": params or {}})
        if not made:
            return batch, 0
        recipients = list(kind_of(kind).recipients(batch))
        Message.objects.bulk_create(
            [
                Message(batch=batch, recipient=r.key, email=r.email, payload=r.payload, updated_at=now)
                for r in recipients
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )
        count = Message.objects.filter(batch=batch).count()
        Batch.objects.filter(pk=batch.pk).update(recipients=count, woken_at=now)
        batch.recipients = count
        if count:
            transaction.on_commit(lambda: enqueue_chunks(batch_id=batch.pk, rows=count))
    logger.info("%s: %s messages", batch, count)
    return batch, count


def enqueue_chunks(*, batch_id, rows, countdown=None):
    """Wake workers: a chunk task for every ``SUBSCRIBERS_CHUNK_SIZE`` rows; never raises (``queue_chunks``)."""
    from mailings.tasks import send_chunk

    return queue.queue_chunks(send_chunk, batch_id, rows, countdown)


def _enqueue(batch_id, rows, countdown=None):
    return enqueue_chunks(batch_id=batch_id, rows=rows, countdown=countdown)


QUEUE = Queue(model=Message, group="batch_id", group_model=Batch, enqueue=_enqueue)


def messages_claim(*, batch_id, limit, now):
    """Take up to ``limit`` due pending messages under a new lease. Returns the claim's id and the rows' ids."""
    return queue.claim(QUEUE, group_id=batch_id, limit=limit, now=now)


def batch_send_chunk(*, batch_id, limit=None):
    """Claim a chunk of the batch's due pending messages, let its kind prepare them, and send them over one
    SMTP connection; queue a successor while due rows remain."""
    now = timezone.now()
    claim, ids = messages_claim(batch_id=batch_id, limit=limit or settings.SUBSCRIBERS_CHUNK_SIZE, now=now)
    result = ChunkResult(claimed=len(ids))
    if not ids:
        return result
    batch = Batch.objects.get(pk=batch_id)
    kind = kind_of(batch.kind)
    messages = list(Message.objects.filter(pk__in=ids).order_by("id"))
    prepared = kind.prepare(batch, messages)
    outgoing, skipped = [], defaultdict(list)
    for message in messages:
        ready = prepared.get(message.pk, "nothing to send")
        if isinstance(ready, str):
            skipped[ready].append(message.pk)
        else:
            outgoing.append((message, ready))
    for reason, pks in skipped.items():
        Message.objects.filter(pk__in=pks, claim=claim).update(
            status=DeliveryStatus.SKIPPED, error=reason, claim=None, lease_until=None, updated_at=now
        )
        result.skipped += len(pks)
    if outgoing:
        _send(batch=batch, kind=kind, claim=claim, outgoing=outgoing, result=result)
    if queue.has_due(QUEUE, batch_id):
        enqueue_chunks(batch_id=batch_id, rows=1)
    return result


def message_id(batch, message):
    """Derived from the row: a message sent again after a crash carries the same Message-ID."""
    domain = settings.SUBSCRIBERS_MESSAGE_ID_DOMAIN or urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<dgd-{batch.kind}-b{batch.pk}-m{message.pk}@{domain}>"


def template_trio(folder):
    """A kind's template trio (``subject.txt``, ``body.txt``, ``body.html`` in ``folder``), compiled once for a
    chunk or a run rather than once per message."""
    return {part: get_template(f"{folder}/{part}") for part in ("subject.txt", "body.txt", "body.html")}


def trio_subject(templates, context):
    """The subject the trio renders, on one line."""
    return " ".join(templates["subject.txt"].render(context).split())


def _email(*, batch, kind, message, outgoing, templates, connection):
    import css_inline

    context = outgoing.context
    email = EmailMultiAlternatives(
        subject=trio_subject(templates, context),
        body=templates["body.txt"].render(context),
        from_email=getattr(settings, kind.from_setting),
        to=[message.email],
        reply_to=settings.SUBSCRIBERS_REPLY_TO or None,
        headers={"Message-ID": message_id(batch, message), **outgoing.headers},
        connection=connection,
    )
    email.attach_alternative(css_inline.inline(templates["body.html"].render(context)), "text/html")
    return email


class _Held:
    """A chunk's lease: renewed every third of ``SUBSCRIBERS_LEASE`` between messages; a row another sender
    took over meanwhile (this one hung past its lease) is left alone."""

    def __init__(self, *, claim, ids):
        self.claim, self.ids, self.renewed_at = claim, set(ids), time.monotonic()

    def keep(self, pk):
        if time.monotonic() - self.renewed_at >= settings.SUBSCRIBERS_LEASE / 3:
            rows = Message.objects.filter(pk__in=self.ids, claim=self.claim, status=DeliveryStatus.SENDING)
            if rows.update(lease_until=queue.lease_end(timezone.now())) < len(self.ids):
                self.ids = set(rows.values_list("pk", flat=True))
            self.renewed_at = time.monotonic()
        return pk in self.ids


def _mark_sent(pk):
    """Recorded the moment the server accepted the message, whoever holds the row now."""
    now = timezone.now()
    Message.objects.filter(pk=pk).exclude(status=DeliveryStatus.SENT).update(
        status=DeliveryStatus.SENT,
        sent_at=now,
        updated_at=now,
        error="",
        attempts=F("attempts") + 1,
        claim=None,
        lease_until=None,
    )


def _send(*, batch, kind, claim, outgoing, result):
    connection = get_connection(fail_silently=False, timeout=smtp_timeout())
    trios = {}
    held = _Held(claim=claim, ids=[message.pk for message, _ in outgoing])
    transient, permanent = [], []
    try:
        for message, ready in outgoing:
            if not held.keep(message.pk):
                result.lost += 1
                continue
            try:
                folder = ready.templates or kind.templates
                templates = trios[folder] = trios.get(folder) or template_trio(folder)
                email = _email(
                    batch=batch, kind=kind, message=message, outgoing=ready, templates=templates, connection=connection
                )
                connection.open()  # does nothing while the connection is open
                connection.send_messages([email])
            except DB_ERRORS:
                raise
            except Exception as error:  # classified: transient ones are retried, the others recorded
                is_transient, description = classify_error(error)
                (transient if is_transient else permanent).append((message, description))
                if is_disconnect(error):
                    connection.close()
                continue
            held.ids.discard(message.pk)
            _mark_sent(message.pk)
            result.sent += 1
    finally:
        try:
            connection.close()
        except Exception:  # the connection may be gone already
            logger.warning("closing the SMTP connection failed", exc_info=True)
        try:
            queue.record_failures(
                QUEUE, group_id=batch.pk, claim_id=claim, transient=transient, permanent=permanent, result=result
            )
        except DB_ERRORS:  # the lease runs out and the periodic check puts them back
            logger.warning("batch %s: failures not recorded; the lease will run out", batch.pk, exc_info=True)


def messages_check(*, now=None, dry_run=False):
    """The engine's keeper, every ``SUBSCRIBERS_CHECK_INTERVAL`` seconds (dgd/celery.py). Returns
    ``{"released", "failed", "woken"}``: rows whose lease ran out back to pending, due now (or failed, once
    senders took them ``2 × SUBSCRIBERS_MAX_ATTEMPTS`` times); batches with due pending rows nothing has moved
    for ``SUBSCRIBERS_STALL`` seconds get their chunk tasks queued again, at most once a stall."""
    now = now or timezone.now()
    report = {"released": 0, "failed": 0, "woken": 0}
    released = queue.release_expired(QUEUE, now=now, dry_run=dry_run, report=report)
    queue.wake_stalled(QUEUE, now=now, dry_run=dry_run, report=report, released=released)
    if any(report.values()):
        logger.info("mailings check: %s", report)
    return report


def messages_retry_failed(*, batch_id):
    """Put a batch's failed messages back in the queue."""
    return queue.retry_failed(QUEUE, group_id=batch_id)


def messages_send_now(*, batch_id, ids):
    """Send these messages of a batch now (an admin's "send again"): failed ones, or ones waiting for their
    retry, are due at once and a chunk of the batch is sent here; one sent already, or held by a sender, is left
    alone, so none is sent twice. Returns the chunk's result."""
    now = timezone.now()
    with transaction.atomic():
        rows = Message.objects.filter(batch_id=batch_id, pk__in=ids)
        rows.filter(status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.PENDING, attempts=0, claims=0, next_attempt_at=None, updated_at=now
        )
        rows.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=None, updated_at=now)
    return batch_send_chunk(batch_id=batch_id)
