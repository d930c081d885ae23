"""The queue both senders share: the rows of a mailing (``mailings.Message``, grouped by batch) and of an
issue's digests (``subscribers.Delivery``, grouped by issue) are claimed, retried, released and woken alike.

A queue is a model with the delivery fields (``status``, ``claim``, ``claimed_at``, ``lease_until``,
``claims``, ``attempts``, ``next_attempt_at``, ``error``, ``updated_at``), the name of its group's foreign key,
the group's model (its primary key is the group's id and it has ``woken_at``), and how to wake workers."""

import logging
import math
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from mailings.models import DeliveryStatus as Status
from mailings.transport import backoff

logger = logging.getLogger(__name__)

BROKER_ERRORS = (BrokerError, OSError)  # kombu raises its OperationalError for an unreachable broker


def queue_chunks(task, group_id, rows, countdown=None):
    """Wake workers: a chunk task (``task(group_id)``) for every ``SUBSCRIBERS_CHUNK_SIZE`` rows. Never raises
    for an unreachable broker (the periodic check queues tasks again for due rows nothing has moved); returns
    whether it could."""
    try:
        for _ in range(math.ceil(rows / settings.SUBSCRIBERS_CHUNK_SIZE)):
            task.apply_async((group_id,), countdown=countdown)
    except BROKER_ERRORS:
        logger.warning("%s(%s): tasks could not be queued; the periodic check will", task.name, group_id, exc_info=True)
        return False
    return True


@dataclass
class ChunkResult:
    """What a chunk did with the rows it claimed."""

    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    retry: int = 0
    failed: int = 0
    lost: int = 0  # rows whose lease ran out while this chunk held them (another sender has them now)


@dataclass(frozen=True)
class Queue:
    model: type
    group: str  # "batch_id", "issue_id"
    group_model: type  # Batch, Fanout: pk = the group's id, with ``woken_at``
    enqueue: Callable  # (group_id, rows, countdown=None): queue chunk tasks for that many rows
    # Fields of a group row the check creates (a digest's fan-out row may be missing) set to the time, too.
    created_fields: tuple = ()

    def rows(self, group_id):
        return self.model.objects.filter(**{self.group: group_id})


def due(now):
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)


def lease_end(now):
    return now + timedelta(seconds=settings.SUBSCRIBERS_LEASE)


def claim(queue, *, group_id, limit, now):
    """Take up to ``limit`` due pending rows of the group under a new lease (rows another sender is claiming
    are skipped). Returns the claim's id and the rows' ids."""
    claim_id = uuid.uuid4()
    with transaction.atomic():
        pending = queue.rows(group_id).filter(status=Status.PENDING).filter(due(now))
        ids = list(pending.order_by("id").select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
        if ids:
            queue.model.objects.filter(pk__in=ids).update(
                status=Status.SENDING,
                claim=claim_id,
                claimed_at=now,
                lease_until=lease_end(now),
                updated_at=now,
                claims=F("claims") + 1,
            )
    return claim_id, ids


def has_due(queue, group_id):
    return queue.rows(group_id).filter(status=Status.PENDING).filter(due(timezone.now())).exists()


def record_failures(queue, *, group_id, claim_id, transient, permanent, result):
    """After a chunk: permanent failures fail; transient ones are due again after a backoff (or fail after
    ``SUBSCRIBERS_MAX_ATTEMPTS``), each delay with chunk tasks due at its own time (one task due at the shortest
    delay would find the later rows not yet due, and they would wait for the periodic check)."""
    now = timezone.now()
    held = queue.model.objects.filter(claim=claim_id, status=Status.SENDING)
    done = {"claim": None, "lease_until": None, "updated_at": now, "attempts": F("attempts") + 1}
    for row, description in permanent:
        held.filter(pk=row.pk).update(status=Status.FAILED, error=description, **done)
        result.failed += 1
    retry_rows = Counter()
    for row, description in transient:
        attempts = row.attempts + 1  # this try counted
        if attempts >= settings.SUBSCRIBERS_MAX_ATTEMPTS:
            held.filter(pk=row.pk).update(
                status=Status.FAILED, error=f"{description} (after {attempts} attempts)", **done
            )
            result.failed += 1
            continue
        delay = backoff(attempts)
        held.filter(pk=row.pk).update(
            status=Status.PENDING, error=description, next_attempt_at=now + timedelta(seconds=delay), **done
        )
        retry_rows[delay] += 1
        result.retry += 1
    for delay, rows in sorted(retry_rows.items()):
        queue.enqueue(group_id, rows, countdown=delay)


def release_expired(queue, *, now, dry_run, report):
    """Rows whose lease ran out (their sender died or hangs) go back to pending, due now — or fail, once senders
    took them ``2 × SUBSCRIBERS_MAX_ATTEMPTS`` times. Counts them in ``report``; returns the groups released."""
    max_claims = 2 * settings.SUBSCRIBERS_MAX_ATTEMPTS
    with transaction.atomic():
        expired = list(
            queue.model.objects.select_for_update(skip_locked=True)
            .filter(status=Status.SENDING, lease_until__lt=now)
            .values_list("pk", queue.group, "claims")
        )
        last = [pk for pk, _group, claims in expired if claims >= max_claims]
        again = [pk for pk, _group, claims in expired if claims < max_claims]
        report["released"], report["failed"] = len(again), len(last)
        if not dry_run:
            free = {"claim": None, "lease_until": None, "updated_at": now}
            queue.model.objects.filter(pk__in=last).update(
                status=Status.FAILED, error=f"abandoned by {max_claims} senders", **free
            )
            queue.model.objects.filter(pk__in=again).update(status=Status.PENDING, next_attempt_at=None, **free)
    return {group for _pk, group, claims in expired if claims < max_claims}


def wake_stalled(queue, *, now, dry_run, report, released, skip=()):
    """Groups with due pending rows that nothing has moved for ``SUBSCRIBERS_STALL`` seconds (their tasks were
    lost: Redis restarted or emptied) get their chunk tasks queued again, at most once a stall; so do the groups
    just ``released``. ``skip``: groups taken care of otherwise."""
    stall = now - timedelta(seconds=settings.SUBSCRIBERS_STALL)
    waiting = (
        queue.model.objects.filter(status=Status.PENDING)
        .filter(due(now))
        .values(queue.group)
        .annotate(rows=Count("id"))
        .values_list(queue.group, "rows")
        .order_by()
    )
    for group_id, rows in waiting:
        if group_id in skip:
            continue
        if group_id not in released:
            moved = queue.rows(group_id).filter(
                Q(updated_at__gte=stall) | Q(status=Status.SENDING, lease_until__gte=now)
            )
            if moved.exists() or queue.group_model.objects.filter(pk=group_id, woken_at__gte=stall).exists():
                continue
            report["woken"] += 1
        if not dry_run:
            queue.group_model.objects.update_or_create(
                pk=group_id,
                defaults={"woken_at": now},
                create_defaults={"woken_at": now, **dict.fromkeys(queue.created_fields, now)},
            )
            queue.enqueue(group_id, rows)


def retry_failed(queue, *, group_id, ids=None):
    """Put failed rows back in the queue (all of the group's, or those given)."""
    now = timezone.now()
    with transaction.atomic():
        failed = queue.rows(group_id).filter(status=Status.FAILED)
        if ids is not None:
            failed = failed.filter(pk__in=ids)
        count = failed.update(
            status=Status.PENDING,
            attempts=0,
            claims=0,
            next_attempt_at=None,
            claimed_at=None,
            claim=None,
            lease_until=None,
            updated_at=now,
        )
        if count:
            transaction.on_commit(lambda: queue.enqueue(group_id, count))
    return count
