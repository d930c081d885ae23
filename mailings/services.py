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
import math
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Count, F, Q
from django.template.loader import get_template
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from mailings.kinds import kind_of
from mailings.models import Batch, Message, MessageStatus
from mailings.transport import backoff, classify_error, is_disconnect, smtp_timeout

logger = logging.getLogger(__name__)

DB_ERRORS = (OperationalError, InterfaceError)
BROKER_ERRORS = (BrokerError, OSError)  # kombu raises its OperationalError for an unreachable broker


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
    """Wake workers: a chunk task for every ``SUBSCRIBERS_CHUNK_SIZE`` rows. Never raises for an unreachable
    broker (the periodic check queues tasks again for due rows nothing has moved)."""
    from mailings.tasks import send_chunk

    try:
        for _ in range(math.ceil(rows / settings.SUBSCRIBERS_CHUNK_SIZE)):
            send_chunk.apply_async((batch_id,), countdown=countdown)
    except BROKER_ERRORS:
        logger.warning("batch %s: chunk tasks could not be queued; the periodic check will", batch_id, exc_info=True)
        return False
    return True


def _due(now):
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)


def _lease(now):
    return now + timedelta(seconds=settings.SUBSCRIBERS_LEASE)


def messages_claim(*, batch_id, limit, now):
    """Take up to ``limit`` due pending messages under a new lease (rows another sender is claiming are
    skipped). Returns the claim's id and the rows' ids."""
    claim = uuid.uuid4()
    with transaction.atomic():
        due = (
            Message.objects.filter(batch_id=batch_id, status=MessageStatus.PENDING)
            .filter(_due(now))
            .order_by("id")
            .select_for_update(skip_locked=True)
        )
        ids = list(due.values_list("pk", flat=True)[:limit])
        if ids:
            Message.objects.filter(pk__in=ids).update(
                status=MessageStatus.SENDING,
                claim=claim,
                lease_until=_lease(now),
                updated_at=now,
                claims=F("claims") + 1,
            )
    return claim, ids


@dataclass
class ChunkResult:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    retry: int = 0
    failed: int = 0
    lost: int = 0  # rows whose lease ran out while this chunk held them (another sender has them now)


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
            status=MessageStatus.SKIPPED, error=reason, claim=None, lease_until=None, updated_at=now
        )
        result.skipped += len(pks)
    if outgoing:
        _send(batch=batch, kind=kind, claim=claim, outgoing=outgoing, result=result)
    if Message.objects.filter(batch_id=batch_id, status=MessageStatus.PENDING).filter(_due(timezone.now())).exists():
        enqueue_chunks(batch_id=batch_id, rows=1)
    return result


def message_id(batch, message):
    """Derived from the row: a message sent again after a crash carries the same Message-ID."""
    domain = settings.SUBSCRIBERS_MESSAGE_ID_DOMAIN or urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<dgd-{batch.kind}-b{batch.pk}-m{message.pk}@{domain}>"


def _templates(kind):
    """The kind's template trio, compiled once per chunk."""
    return {part: get_template(f"{kind.templates}/{part}") for part in ("subject.txt", "body.txt", "body.html")}


def _email(*, batch, kind, message, outgoing, templates, connection):
    import css_inline

    context = outgoing.context
    email = EmailMultiAlternatives(
        subject=" ".join(templates["subject.txt"].render(context).split()),
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
            rows = Message.objects.filter(pk__in=self.ids, claim=self.claim, status=MessageStatus.SENDING)
            if rows.update(lease_until=_lease(timezone.now())) < len(self.ids):
                self.ids = set(rows.values_list("pk", flat=True))
            self.renewed_at = time.monotonic()
        return pk in self.ids


def _mark_sent(pk):
    """Recorded the moment the server accepted the message, whoever holds the row now."""
    now = timezone.now()
    Message.objects.filter(pk=pk).exclude(status=MessageStatus.SENT).update(
        status=MessageStatus.SENT,
        sent_at=now,
        updated_at=now,
        error="",
        attempts=F("attempts") + 1,
        claim=None,
        lease_until=None,
    )


def _send(*, batch, kind, claim, outgoing, result):
    connection = get_connection(fail_silently=False, timeout=smtp_timeout())
    templates = _templates(kind)
    held = _Held(claim=claim, ids=[message.pk for message, _ in outgoing])
    transient, permanent = [], []
    try:
        for message, ready in outgoing:
            if not held.keep(message.pk):
                result.lost += 1
                continue
            try:
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
            _record_failures(batch_id=batch.pk, claim=claim, transient=transient, permanent=permanent, result=result)
        except DB_ERRORS:  # the lease runs out and the periodic check puts them back
            logger.warning("batch %s: failures not recorded; the lease will run out", batch.pk, exc_info=True)


def _record_failures(*, batch_id, claim, transient, permanent, result):
    now = timezone.now()
    held = Message.objects.filter(claim=claim, status=MessageStatus.SENDING)
    done = {"claim": None, "lease_until": None, "updated_at": now, "attempts": F("attempts") + 1}
    for message, description in permanent:
        held.filter(pk=message.pk).update(status=MessageStatus.FAILED, error=description, **done)
        result.failed += 1
    retry_rows = Counter()
    for message, description in transient:
        attempts = message.attempts + 1  # this try counted
        if attempts >= settings.SUBSCRIBERS_MAX_ATTEMPTS:
            held.filter(pk=message.pk).update(
                status=MessageStatus.FAILED, error=f"{description} (after {attempts} attempts)", **done
            )
            result.failed += 1
            continue
        delay = backoff(attempts)
        held.filter(pk=message.pk).update(
            status=MessageStatus.PENDING, error=description, next_attempt_at=now + timedelta(seconds=delay), **done
        )
        retry_rows[delay] += 1
        result.retry += 1
    for delay, rows in sorted(retry_rows.items()):
        enqueue_chunks(batch_id=batch_id, rows=rows, countdown=delay)


def messages_check(*, now=None, dry_run=False):
    """The engine's keeper, every ``SUBSCRIBERS_CHECK_INTERVAL`` seconds (dgd/celery.py). Returns
    ``{"released", "failed", "woken"}``: rows whose lease ran out back to pending, due now (or failed, once
    senders took them ``2 × SUBSCRIBERS_MAX_ATTEMPTS`` times); batches with due pending rows nothing has moved
    for ``SUBSCRIBERS_STALL`` seconds get their chunk tasks queued again, at most once a stall."""
    now = now or timezone.now()
    report = {"released": 0, "failed": 0, "woken": 0}
    max_claims = 2 * settings.SUBSCRIBERS_MAX_ATTEMPTS
    with transaction.atomic():
        expired = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status=MessageStatus.SENDING, lease_until__lt=now)
            .values_list("pk", "batch_id", "claims")
        )
        last = [pk for pk, _, claims in expired if claims >= max_claims]
        again = [pk for pk, _, claims in expired if claims < max_claims]
        released = {batch_id for _, batch_id, claims in expired if claims < max_claims}
        report["released"], report["failed"] = len(again), len(last)
        if not dry_run:
            free = {"claim": None, "lease_until": None, "updated_at": now}
            Message.objects.filter(pk__in=last).update(
                status=MessageStatus.FAILED, error=f"abandoned by {max_claims} senders", **free
            )
            Message.objects.filter(pk__in=again).update(status=MessageStatus.PENDING, next_attempt_at=None, **free)

    stall = now - timedelta(seconds=settings.SUBSCRIBERS_STALL)
    waiting = (
        Message.objects.filter(status=MessageStatus.PENDING)
        .filter(_due(now))
        .values("batch_id")
        .annotate(rows=Count("id"))
        .values_list("batch_id", "rows")
        .order_by()
    )
    for batch_id, rows in waiting:
        if batch_id not in released:
            moved = Message.objects.filter(batch_id=batch_id).filter(
                Q(updated_at__gte=stall) | Q(status=MessageStatus.SENDING, lease_until__gte=now)
            )
            if moved.exists() or Batch.objects.filter(pk=batch_id, woken_at__gte=stall).exists():
                continue
            report["woken"] += 1
        if not dry_run:
            Batch.objects.filter(pk=batch_id).update(woken_at=now)
            enqueue_chunks(batch_id=batch_id, rows=rows)
    if any(report.values()):
        logger.info("mailings check: %s", report)
    return report


def messages_retry_failed(*, batch_id):
    """Put a batch's failed messages back in the queue."""
    now = timezone.now()
    with transaction.atomic():
        count = Message.objects.filter(batch_id=batch_id, status=MessageStatus.FAILED).update(
            status=MessageStatus.PENDING,
            attempts=0,
            claims=0,
            next_attempt_at=None,
            claim=None,
            lease_until=None,
            updated_at=now,
        )
        if count:
            transaction.on_commit(lambda: enqueue_chunks(batch_id=batch_id, rows=count))
    return count
