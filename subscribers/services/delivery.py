"""The digests' delivery engine: fan-out on publish, chunk sending under leases, retries and the periodic check
(docs/delivery.md)."""

import contextlib
import logging
import select
import time
from datetime import timedelta

import psycopg
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import sanitize_address
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from issues.models import Issue, IssueEvent, IssueStatus
from issues.selectors import issue_data
from mailings import queue
from mailings.queue import BROKER_ERRORS, ChunkResult, Queue
from mailings.transport import classify_error, is_disconnect, smtp_timeout
from subscribers.digests import DigestRenderer, personalise, personalise_wire
from subscribers.models import (
    Delivery,
    DeliveryStatus,
    Fanout,
    Subscriber,
    SubscriberStatus,
)
from subscribers.selectors import (
    fanout_preview,
    preferences_key,
    subscriber_preferences,
)
from subscribers.services.transport import _sendmail_wire

logger = logging.getLogger(__name__)


# --- Delivery: fan-out, chunks, leases, retries, the periodic check -------------------------------
#
# The database is the queue's truth; Redis only wakes workers (docs/delivery.md). A chunk task claims due
# pending rows under a lease it renews while sending, records each message as sent the moment the SMTP server
# accepted it, and queues a successor while due rows remain. The periodic check (deliveries_check) puts a dead
# sender's rows back when their lease runs out, queues tasks again for an issue whose tasks were lost, and
# fans out a publication whose fan-out never ran. Every task may run twice: a claim takes only pending rows.

FANOUT_WINDOW = timedelta(days=2)  # the check fans out publications of this recent past only
DB_ERRORS = (OperationalError, InterfaceError)
DB_WAIT = 30  # seconds a sending chunk waits through a database restart before it gives up (the task retries)


def fanout_start(*, issue_id):
    """On publication, after its commit: queue the task that creates the deliveries. Never raises (the editor's
    request must not fail over it): if the task cannot be queued, the periodic check fans the issue out."""
    from subscribers.tasks import create_deliveries

    def enqueue():
        try:
            create_deliveries.delay(issue_id)
        except BROKER_ERRORS:
            logger.exception("issue %s: the fan-out task could not be queued; the periodic check will run it", issue_id)

    transaction.on_commit(enqueue)


def deliveries_create_for_issue(*, issue_id):
    """One delivery per confirmed subscriber, in one transaction that also records the issue's fan-out as done;
    the chunk tasks are queued once it commits. Idempotent: once done, a second call creates nothing. Returns
    the number of rows created."""
    now = timezone.now()
    with transaction.atomic():
        issue = Issue.objects.select_for_update().get(pk=issue_id)
        fanout, _ = Fanout.objects.get_or_create(issue=issue)
        if fanout.deliveries_created_at is not None:
            return 0
        subscriber_ids = Subscriber.objects.confirmed().values_list("pk", flat=True).order_by("pk")
        Delivery.objects.bulk_create(
            [Delivery(issue=issue, subscriber_id=pk, updated_at=now) for pk in subscriber_ids.iterator()],
            batch_size=2000,
            ignore_conflicts=True,
        )
        created = Delivery.objects.filter(issue=issue).count()
        Fanout.objects.filter(pk=issue.pk).update(deliveries_created_at=now, recipients=created, woken_at=now)
        transaction.on_commit(lambda: enqueue_chunks(issue_id=issue_id, rows=created))
    logger.info("issue %s: %s deliveries created", issue_id, created)
    return created


def enqueue_chunks(*, issue_id, rows, countdown=None):
    """Wake workers: a chunk task for every ``SUBSCRIBERS_CHUNK_SIZE`` rows; never raises (``queue_chunks``)."""
    from subscribers.tasks import send_digest_chunk

    return queue.queue_chunks(send_digest_chunk, issue_id, rows, countdown)


def _enqueue(issue_id, rows, countdown=None):
    return enqueue_chunks(issue_id=issue_id, rows=rows, countdown=countdown)


# The digests' rows on the queue every kind of mail shares (mailings.queue): claimed, retried, released and
# woken as a mailing's messages are.
QUEUE = Queue(
    model=Delivery, group="issue_id", group_model=Fanout, enqueue=_enqueue, created_fields=("deliveries_created_at",)
)


def deliveries_send_chunk(*, issue_id, limit=None):
    """Claim a chunk of this issue's due pending deliveries and send them over one SMTP connection; queue a
    successor while due rows remain (so an emptied Redis costs nothing while a chunk is sending)."""
    now = timezone.now()
    claim, ids = queue.claim(QUEUE, group_id=issue_id, limit=limit or settings.SUBSCRIBERS_CHUNK_SIZE, now=now)
    result = ChunkResult(claimed=len(ids))
    if not ids:
        return result
    issue = Issue.objects.select_related("series").get(pk=issue_id)
    revision = issue.latest_revision()
    renderer = DigestRenderer(
        issue=issue,
        data=revision.data if revision else issue_data(issue),
        revision_number=revision.number if revision else 0,
    )
    deliveries = list(
        Delivery.objects.filter(pk__in=ids)
        .select_related("subscriber")
        .prefetch_related("subscriber__provinces", "subscriber__themes")
    )
    outgoing = []
    skipped = {"unsubscribed": [], "nothing matches": []}
    for delivery in deliveries:
        subscriber = delivery.subscriber
        if not subscriber.is_confirmed:
            skipped["unsubscribed"].append(delivery.pk)
            continue
        rendered = renderer.group(preferences_key(subscriber_preferences(subscriber)))
        if rendered.empty:
            skipped["nothing matches"].append(delivery.pk)
            continue
        outgoing.append((delivery, rendered))
    # The last look before sending: whoever left while the chunk was being prepared gets nothing.
    gone = set(
        Subscriber.objects.filter(pk__in=[d.subscriber_id for d, _ in outgoing])
        .exclude(status=SubscriberStatus.CONFIRMED)
        .values_list("pk", flat=True)
    )
    if gone:
        skipped["unsubscribed"] += [d.pk for d, _ in outgoing if d.subscriber_id in gone]
        outgoing = [(d, r) for d, r in outgoing if d.subscriber_id not in gone]
    for reason, pks in skipped.items():
        if pks:
            Delivery.objects.filter(pk__in=pks, claim=claim).update(
                status=DeliveryStatus.SKIPPED, error=reason, claim=None, lease_until=None, updated_at=now
            )
            result.skipped += len(pks)
    if outgoing:
        _send(issue_id=issue_id, claim=claim, outgoing=outgoing, result=result)
    if queue.has_due(QUEUE, issue_id):
        enqueue_chunks(issue_id=issue_id, rows=1)
    return result


class _Sender:
    """The database side of one chunk being sent: its lease and the per-message marks.

    On PostgreSQL a mark is pipelined: its UPDATE goes out the moment the SMTP server accepted the message, and
    its result is read during the next message's MAIL command (``settle``), so the database's round trip costs
    the sender nothing. A killed process loses no mark it sent: the statement is in the socket and the server
    runs it. Marks commit with ``synchronous_commit = off``: a PostgreSQL crash (not a restart, which flushes)
    may forget the last fraction of a second of them, and those messages would be sent again (docs/delivery.md).
    """

    MARK = (
        "UPDATE {table} SET status = 'sent', sent_at = {now}, updated_at = {now}, error = '', "
        "attempts = attempts + 1, claim = NULL, lease_until = NULL WHERE id = {id} AND status <> 'sent'"
    )

    def __init__(self, *, claim, ids):
        self.claim = claim
        self.held = set(ids)
        self.renewed_at = time.monotonic()
        table = connection.ops.quote_name(Delivery._meta.db_table)
        self.sql = self.MARK.format(table=table, now="%s", id="%s")
        self.pipelined_sql = self.MARK.format(table=table, now="$1::timestamptz", id="$2").encode()
        self.pipelined = connection.vendor == "postgresql"
        self.in_flight = None  # (delivery id, time) of a pipelined mark whose result is still to be read
        self.session = None  # the database connection on which synchronous_commit was turned off
        self.reconnected = False

    def _database(self, operation, *, what):
        """Run ``operation`` (autocommit writes that are safe to repeat), waiting through a database restart:
        on a lost connection, reconnect and try again with backoff for up to ``DB_WAIT`` seconds, then raise."""
        deadline = time.monotonic() + DB_WAIT
        delay = 0.25
        while True:
            try:
                return operation()
            except DB_ERRORS:
                self.reconnected = True
                if connection.in_atomic_block or time.monotonic() + delay > deadline:
                    raise
                logger.warning("%s: the database is unreachable, trying again in %.1f s", what, delay, exc_info=True)
                connection.close()  # the next query reconnects
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _session(self):
        """Django's connection, with synchronous_commit off for this chunk's marks (again after a reconnect)."""
        connection.ensure_connection()
        if self.pipelined and self.session is not connection.connection:
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO off")
            self.session = connection.connection
        return connection.connection

    def close(self):
        self.settle()
        if self.session is not None and self.session is connection.connection:
            with contextlib.suppress(DB_ERRORS), connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
        self.session = None

    def _mark_now(self, delivery_id, at):
        def mark():
            self._session()
            with connection.cursor() as cursor:
                cursor.execute(self.sql, [at, at, delivery_id])

        self._database(mark, what="marking a digest sent")

    def mark_sent(self, delivery_id):
        """Record one message as sent, the moment the SMTP server accepted it: whoever holds the row now (a
        sender whose lease ran out may find another holding it), the message was sent."""
        self.held.discard(delivery_id)
        at = timezone.now()
        if not self.pipelined:
            self._mark_now(delivery_id, at)
            return
        self.settle()
        try:
            pgconn = self._session().pgconn
            pgconn.send_query_params(self.pipelined_sql, [at.isoformat().encode(), str(delivery_id).encode()])
            while pgconn.flush():  # psycopg's connections are non-blocking: push the statement out now
                select.select([], [pgconn.socket], [], 1.0)
            self.in_flight = (delivery_id, at)
        except (psycopg.Error, *DB_ERRORS):
            logger.warning("a pipelined mark could not be sent; marking again", exc_info=True)
            self._mark_now(delivery_id, at)

    def settle(self):
        """Read the result of the mark in flight (it is normally there already); on any trouble, mark again."""
        if self.in_flight is None:
            return
        delivery_id, at = self.in_flight
        self.in_flight = None
        try:
            pgconn = connection.connection.pgconn
            deadline = time.monotonic() + DB_WAIT
            while True:
                pgconn.consume_input()
                if not pgconn.is_busy():
                    break
                if time.monotonic() > deadline:
                    raise psycopg.OperationalError("no answer to a mark")
                select.select([pgconn.socket], [], [], 1.0)
            failure = None
            while (answer := pgconn.get_result()) is not None:
                if answer.status != psycopg.pq.ExecStatus.COMMAND_OK:
                    failure = answer.error_message
            if failure:
                raise psycopg.OperationalError(failure.decode(errors="replace"))
        except (psycopg.Error, *DB_ERRORS):
            logger.warning("a pipelined mark failed; marking again", exc_info=True)
            self.reconnected = True
            self._mark_now(delivery_id, at)

    def keep(self, delivery_id):
        """Whether this sender still holds the row; renews the lease every third of it (and after the database
        came back), finding out which rows another sender took over meanwhile."""
        if self.reconnected or time.monotonic() - self.renewed_at >= settings.SUBSCRIBERS_LEASE / 3:
            self.renew()
        return delivery_id in self.held

    def renew(self):
        self.settle()

        def renew():
            now = timezone.now()
            rows = Delivery.objects.filter(pk__in=self.held, claim=self.claim, status=DeliveryStatus.SENDING)
            if rows.update(lease_until=now + timedelta(seconds=settings.SUBSCRIBERS_LEASE)) < len(self.held):
                self.held = set(rows.values_list("pk", flat=True))

        self._database(renew, what="renewing a chunk's lease")
        self.renewed_at, self.reconnected = time.monotonic(), False


def _send(*, issue_id, claim, outgoing, result):
    connection_ = get_connection(fail_silently=False, timeout=smtp_timeout())
    # With Django's SMTP backend, send the pre-built, dot-stuffed bytes over its smtplib connection (what its
    # own send_messages does after building the MIME message); any other backend gets EmailMessage objects.
    raw_smtp = type(connection_) is SmtpBackend
    envelope_from = sanitize_address(settings.SUBSCRIBERS_FROM_EMAIL, "utf-8")
    sender = _Sender(claim=claim, ids=[d.pk for d, _ in outgoing])
    transient, permanent = [], []
    opened = False
    try:
        for delivery, rendered in outgoing:
            if not sender.keep(delivery.pk):
                result.lost += 1
                continue
            subscriber = delivery.subscriber
            personal = {
                "subscriber_id": subscriber.pk,
                "email": subscriber.email,
                "name": subscriber.name,
                "issue_id": issue_id,
            }
            wire = personalise_wire(rendered, **personal) if raw_smtp else None
            try:
                if not opened:
                    connection_.open()
                    opened = True
                if wire is not None:
                    _sendmail_wire(connection_.connection, envelope_from, subscriber.email, wire, sender.settle)
                else:
                    sender.settle()
                    connection_.send_messages([personalise(rendered, **personal)])
            except DB_ERRORS:  # the database stayed away: this message was not sent; the chunk stops here
                raise
            except Exception as error:  # classified below: transient ones are retried, the others recorded
                is_transient, description = classify_error(error)
                (transient if is_transient else permanent).append((delivery, description))
                if is_disconnect(error) or not opened:
                    connection_.close()
                    opened = False
                continue
            sender.mark_sent(delivery.pk)
            result.sent += 1
    finally:
        if opened:
            try:
                connection_.close()
            except Exception:  # the connection may be gone already
                logger.warning("closing the SMTP connection failed", exc_info=True)
        # Rows never tried (an error stopped the chunk) keep their lease until it runs out: the periodic check
        # then puts them back, and fails a row that keeps killing its senders.
        try:
            sender.settle()
            queue.record_failures(
                QUEUE, group_id=issue_id, claim_id=claim, transient=transient, permanent=permanent, result=result
            )
            sender.close()
        except DB_ERRORS:  # the database is gone: the lease runs out and the periodic check puts them back
            logger.warning("issue %s: failures not recorded; the lease will run out", issue_id, exc_info=True)


def deliveries_check(*, now=None, dry_run=False):
    """The queue's keeper, every ``SUBSCRIBERS_CHECK_INTERVAL`` seconds (dgd/celery.py). Returns
    ``{"fanned_out", "released", "failed", "woken"}``:

    - fanned out: publications (of the last two days) still without deliveries ``SUBSCRIBERS_FANOUT_GRACE``
      seconds on — their fan-out task was lost or failed for good;
    - released: rows whose lease ran out (their sender died or hangs) go back to pending, due now — or fail,
      once senders took them ``2 × SUBSCRIBERS_MAX_ATTEMPTS`` times;
    - woken: issues with due pending rows that nothing has moved for ``SUBSCRIBERS_STALL`` seconds (their
      tasks were lost: Redis restarted or emptied) get their chunk tasks queued again, at most once a stall.
    """
    now = now or timezone.now()
    report = {"fanned_out": 0, "released": 0, "failed": 0, "woken": 0}
    grace = now - timedelta(seconds=settings.SUBSCRIBERS_FANOUT_GRACE)
    unfanned = (
        IssueEvent.objects.filter(action="publish", created_at__gte=now - FANOUT_WINDOW, created_at__lt=grace)
        .filter(issue__status=IssueStatus.PUBLISHED)
        .exclude(issue__fanout__deliveries_created_at__isnull=False)
        .values_list("issue_id", flat=True)
        .distinct()
    )
    fanned_out = set(unfanned)
    for issue_id in fanned_out:
        logger.warning("issue %s: published without deliveries; the periodic check creates them", issue_id)
        report["fanned_out"] += 1
        if not dry_run:
            deliveries_create_for_issue(issue_id=issue_id)  # which queues their chunk tasks

    released = queue.release_expired(QUEUE, now=now, dry_run=dry_run, report=report)
    queue.wake_stalled(QUEUE, now=now, dry_run=dry_run, report=report, released=released, skip=fanned_out)
    if any(report.values()):
        logger.info("delivery check: %s", report)
    return report


def deliveries_retry_failed(*, issue_id, delivery_ids=None):
    """Put failed deliveries back in the queue (all of the issue's, or those given)."""
    return queue.retry_failed(QUEUE, group_id=issue_id, ids=delivery_ids)


def fanout_confirmation(*, issue, by):
    """What the chief editor confirms before publishing or scheduling ``issue``: ``fanout_preview``'s counts of
    who would be mailed. Checks the permission to publish."""
    if not by.has_perm("issues.publish_issue"):
        raise PermissionDenied(_("You may not publish issues."))
    return fanout_preview(issue=issue)
