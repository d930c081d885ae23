"""Writes: subscribing (double opt-in), preferences, unsubscribing, CSV import, and the delivery pipeline —
fan-out on publish, chunk sending, retries and the sweeper."""

import csv
import io
import logging
import math
import smtplib
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import sanitize_address
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from issues.models import Issue
from issues.selectors import issue_data
from policies.models import Region, RegionKind, Theme
from subscribers.digests import DigestRenderer, absolute, personal_links, personalise, personalise_raw
from subscribers.models import Delivery, DeliveryStatus, Scope, Subscriber, SubscriberStatus
from subscribers.selectors import preferences_key, subscriber_preferences
from subscribers.tokens import BadToken, confirm_token, read_confirm_token, read_manage_token

logger = logging.getLogger(__name__)


def normalise_email(email):
    return email.strip().lower()


def clean_preferences(*, provinces, themes, scope):
    """Preferences as plain data: province codes and theme slugs that exist, sorted."""
    codes = sorted(
        Region.objects.filter(kind=RegionKind.PROVINCE, code__in=[int(c) for c in provinces]).values_list(
            "code", flat=True
        )
    )
    slugs = sorted(Theme.objects.filter(slug__in=list(themes)).values_list("slug", flat=True))
    return {"scope": scope if scope in Scope.values else Scope.WHOLE, "provinces": codes, "themes": slugs}


def _apply_preferences(subscriber, preferences):
    subscriber.provinces.set(preferences["provinces"])
    subscriber.themes.set(Theme.objects.filter(slug__in=preferences["themes"]))


# --- Subscribing ----------------------------------------------------------------------------------


def subscriber_subscribe(*, email, name="", organisation="", provinces=(), themes=(), scope=Scope.WHOLE, source="web"):
    """Ask for a subscription. Whatever the address's state, the caller answers the same ("check your inbox");
    only the mail differs: a new or unconfirmed address gets a confirmation link carrying the preferences asked
    for (nothing of an existing subscriber changes until that link is opened), a confirmed one gets its
    preference-centre link."""
    email = normalise_email(email)
    preferences = clean_preferences(provinces=provinces, themes=themes, scope=scope)
    with transaction.atomic():
        subscriber, created = Subscriber.objects.get_or_create(
            email=email,
            defaults={
                "name": name.strip(),
                "organisation": organisation.strip(),
                "scope": preferences["scope"],
                "source": source,
            },
        )
        if created:
            _apply_preferences(subscriber, preferences)
        details = {"name": name.strip(), "organisation": organisation.strip()}
        transaction.on_commit(lambda: _enqueue_subscriber_mail(subscriber.pk, {**preferences, **details}))
    return subscriber


def _enqueue_subscriber_mail(subscriber_id, preferences):
    from subscribers.tasks import send_subscriber_mail

    send_subscriber_mail.delay(subscriber_id, preferences)


def subscriber_send_confirmation(*, subscriber_id, preferences):
    """The confirmation mail (or, for a confirmed address, a mail with its preference-centre link)."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        return None
    links = personal_links(subscriber.pk)
    if subscriber.is_confirmed:
        kind, context = "already", {"manage_url": links["manage"]}
    else:
        token = confirm_token(subscriber_id=subscriber.pk, preferences=preferences)
        kind = "confirm"
        context = {
            "confirm_url": absolute(reverse("subscribers:confirm", args=[token])),
            "days": settings.SUBSCRIBERS_CONFIRM_MAX_AGE // 86400,
        }
    context |= {"subscriber": subscriber, "name": preferences.get("name") or subscriber.name}
    send_templated_mail(f"email/subscribers/{kind}", context, to=subscriber.email)
    return kind


def send_templated_mail(prefix, context, *, to, headers=None, connection=None):
    subject = " ".join(render_to_string(f"{prefix}/subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{prefix}/body.txt", context),
        from_email=settings.SUBSCRIBERS_FROM_EMAIL,
        to=[to],
        reply_to=settings.SUBSCRIBERS_REPLY_TO or None,
        headers=headers,
        connection=connection,
    )
    import css_inline

    message.attach_alternative(css_inline.inline(render_to_string(f"{prefix}/body.html", context)), "text/html")
    message.send()


def subscriber_confirm(*, token):
    """Open a confirmation link: the subscription is confirmed with the preferences it carries. Raises BadToken."""
    subscriber_id, preferences = read_confirm_token(token)
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().filter(pk=subscriber_id).first()
        if subscriber is None:
            raise BadToken("no such subscriber")
        now = timezone.now()
        if preferences.get("name"):
            subscriber.name = preferences["name"]
        if preferences.get("organisation"):
            subscriber.organisation = preferences["organisation"]
        subscriber.scope = preferences.get("scope", subscriber.scope)
        if not subscriber.is_confirmed:
            subscriber.status = SubscriberStatus.CONFIRMED
            subscriber.confirmed_at = now
            subscriber.consent_at = now
            subscriber.unsubscribed_at = None
        subscriber.save()
        _apply_preferences(subscriber, preferences)
    return subscriber


def subscriber_from_manage_token(token):
    """The subscriber a management link names; raises BadToken for a forged one or an unknown subscriber."""
    subscriber = Subscriber.objects.filter(pk=read_manage_token(token)).first()
    if subscriber is None:
        raise BadToken("no such subscriber")
    return subscriber


def subscriber_update_preferences(*, subscriber, name, organisation, provinces, themes, scope):
    preferences = clean_preferences(provinces=provinces, themes=themes, scope=scope)
    with transaction.atomic():
        subscriber.name, subscriber.organisation = name.strip(), organisation.strip()
        subscriber.scope = preferences["scope"]
        subscriber.save()
        _apply_preferences(subscriber, preferences)
    return subscriber


def subscriber_unsubscribe(*, subscriber_id):
    """Leave at once. Idempotent. Deliveries not yet claimed by a sender are skipped."""
    now = timezone.now()
    with transaction.atomic():
        changed = (
            Subscriber.objects.filter(pk=subscriber_id)
            .exclude(status=SubscriberStatus.UNSUBSCRIBED)
            .update(status=SubscriberStatus.UNSUBSCRIBED, unsubscribed_at=now, updated_at=now)
        )
        Delivery.objects.filter(subscriber_id=subscriber_id, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SKIPPED, error="unsubscribed", updated_at=now
        )
    return bool(changed)


# --- CSV import -------------------------------------------------------------------------------------

CSV_COLUMNS = ["email", "name", "organisation", "provinces", "themes", "scope"]


@dataclass
class ImportResult:
    created: int = 0
    existing: int = 0
    errors: list = field(default_factory=list)


def _split(value):
    return [part.strip() for part in (value or "").replace("|", ";").replace("，", ";").split(";") if part.strip()]


def subscribers_import_csv(*, data, consented, source):
    """Import subscribers from CSV (columns: email, name, organisation, provinces, themes, scope; provinces by
    code or short name, several separated by ';'). Known addresses are left as they are. Imported addresses
    confirm by mail unless ``consented`` (they agreed elsewhere: ``source`` says where). Malformed rows are
    reported by line and nothing is written."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "email" not in [f.strip().lower() for f in reader.fieldnames]:
        return ImportResult(errors=["line 1: an 'email' column is required"])
    province_by_name = {}
    for code, short, name in Region.objects.filter(kind=RegionKind.PROVINCE).values_list("code", "short_name", "name"):
        province_by_name.update({str(code): code, short: code, name: code})
    theme_by_name = {}
    for slug, name in Theme.objects.values_list("slug", "name"):
        theme_by_name.update({slug: slug, name: slug})
    rows, result, seen = [], ImportResult(), set()
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        email = normalise_email(row.get("email", ""))
        try:
            validate_email(email)
        except ValidationError:
            result.errors.append(f"line {line}: invalid email «{email}»")
            continue
        unknown = [p for p in _split(row.get("provinces")) if p not in province_by_name]
        unknown += [t for t in _split(row.get("themes")) if t not in theme_by_name]
        if unknown:
            result.errors.append(f"line {line}: unknown province or theme {', '.join(unknown)}")
            continue
        scope = row.get("scope") or Scope.WHOLE
        if scope not in Scope.values:
            result.errors.append(f"line {line}: scope must be one of {', '.join(Scope.values)}")
            continue
        if email in seen:
            continue
        seen.add(email)
        rows.append((email, row, scope))
    if result.errors:
        return result
    now = timezone.now()
    to_confirm = []
    with transaction.atomic():
        known = set(Subscriber.objects.filter(email__in=[r[0] for r in rows]).values_list("email", flat=True))
        for email, row, scope in rows:
            if email in known:
                result.existing += 1
                continue
            subscriber = Subscriber.objects.create(
                email=email,
                name=row.get("name", ""),
                organisation=row.get("organisation", ""),
                scope=scope,
                source=source,
                status=SubscriberStatus.CONFIRMED if consented else SubscriberStatus.PENDING,
                consent_at=now if consented else None,
                confirmed_at=now if consented else None,
            )
            preferences = {
                "scope": scope,
                "provinces": sorted({province_by_name[p] for p in _split(row.get("provinces"))}),
                "themes": sorted({theme_by_name[t] for t in _split(row.get("themes"))}),
            }
            _apply_preferences(subscriber, preferences)
            if not consented:
                to_confirm.append((subscriber.pk, preferences))
            result.created += 1
        for subscriber_id, preferences in to_confirm:
            transaction.on_commit(lambda s=subscriber_id, p=preferences: _enqueue_subscriber_mail(s, p))
    return result


# --- Delivery: fan-out, chunks, retries, sweeper ---------------------------------------------------


def deliveries_create_for_issue(*, issue_id):
    """One delivery per confirmed subscriber, in one transaction (a second call adds only newcomers); the chunk
    tasks are enqueued once it commits. Returns the number of rows created."""
    now = timezone.now()
    with transaction.atomic():
        issue = Issue.objects.select_for_update().get(pk=issue_id)
        before = Delivery.objects.filter(issue=issue).count()
        subscriber_ids = Subscriber.objects.confirmed().values_list("pk", flat=True).order_by("pk")
        Delivery.objects.bulk_create(
            [Delivery(issue=issue, subscriber_id=pk, updated_at=now) for pk in subscriber_ids.iterator()],
            batch_size=2000,
            ignore_conflicts=True,
        )
        created = Delivery.objects.filter(issue=issue).count() - before
        pending = Delivery.objects.filter(issue=issue, status=DeliveryStatus.PENDING).count()
        transaction.on_commit(lambda: enqueue_chunks(issue_id=issue_id, rows=pending))
    logger.info("issue %s: %s deliveries created, %s pending", issue_id, created, pending)
    return created


def enqueue_chunks(*, issue_id, rows, countdown=None):
    from subscribers.tasks import send_digest_chunk

    for _ in range(math.ceil(rows / settings.SUBSCRIBERS_CHUNK_SIZE)):
        send_digest_chunk.apply_async((issue_id,), countdown=countdown)


def _claim(*, issue_id, limit, now):
    """Take up to ``limit`` due pending rows for this worker (rows another worker holds are skipped)."""
    with transaction.atomic():
        due = (
            Delivery.objects.filter(issue_id=issue_id, status=DeliveryStatus.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("id")
            .select_for_update(skip_locked=True)
        )
        ids = list(due.values_list("pk", flat=True)[:limit])
        Delivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.SENDING, claimed_at=now, updated_at=now, attempts=F("attempts") + 1
        )
    return ids


def classify_error(error):
    """``(transient, description)``: 4xx replies and dropped connections are worth retrying, 5xx are not."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(error.recipients.values()), (550, b""))
        return 400 <= code < 500, f"{code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        return 400 <= error.smtp_code < 500, f"{error.smtp_code} {reply}"
    if isinstance(error, OSError):  # SMTPServerDisconnected, refused or reset connections, timeouts
        return True, f"{type(error).__name__}: {error}"
    return False, f"{type(error).__name__}: {error}"


def backoff(attempts):
    return settings.SUBSCRIBERS_RETRY_BACKOFF * 2 ** max(attempts - 1, 0)


@dataclass
class ChunkResult:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    retry: int = 0
    failed: int = 0


def deliveries_send_chunk(*, issue_id, limit=None):
    """Claim a chunk of this issue's pending deliveries and send them over one SMTP connection."""
    now = timezone.now()
    ids = _claim(issue_id=issue_id, limit=limit or settings.SUBSCRIBERS_CHUNK_SIZE, now=now)
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
            Delivery.objects.filter(pk__in=pks).update(status=DeliveryStatus.SKIPPED, error=reason, updated_at=now)
            result.skipped += len(pks)
    if outgoing:
        _send(issue_id=issue_id, outgoing=outgoing, result=result)
    return result


def _send(*, issue_id, outgoing, result):
    connection = get_connection(fail_silently=False)
    # With Django's SMTP backend, send the pre-built bytes over its smtplib connection (what its own
    # send_messages does after building the MIME message); any other backend gets EmailMessage objects.
    raw_smtp = type(connection) is SmtpBackend
    envelope_from = sanitize_address(settings.SUBSCRIBERS_FROM_EMAIL, "utf-8")
    sent, transient, permanent = [], [], []
    mark_every = settings.SUBSCRIBERS_MARK_EVERY
    opened = False

    def flush():
        if sent:
            Delivery.objects.filter(pk__in=sent, status=DeliveryStatus.SENDING).update(
                status=DeliveryStatus.SENT, sent_at=timezone.now(), updated_at=timezone.now(), error=""
            )
            result.sent += len(sent)
            sent.clear()

    try:
        for delivery, rendered in outgoing:
            subscriber = delivery.subscriber
            personal = {
                "subscriber_id": subscriber.pk,
                "email": subscriber.email,
                "name": subscriber.name,
                "issue_id": issue_id,
            }
            raw = personalise_raw(rendered, **personal) if raw_smtp else None
            try:
                if not opened:
                    connection.open()
                    opened = True
                if raw is not None:
                    connection.connection.sendmail(envelope_from, [subscriber.email], raw)
                else:
                    connection.send_messages([personalise(rendered, **personal)])
            except Exception as error:  # classified below: transient ones are retried, the others recorded
                is_transient, description = classify_error(error)
                (transient if is_transient else permanent).append((delivery, description))
                if isinstance(error, (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError)) or not opened:
                    connection.close()
                    opened = False
                continue
            sent.append(delivery.pk)
            if len(sent) >= mark_every:
                flush()
    finally:
        flush()
        if opened:
            try:
                connection.close()
            except Exception:  # the connection may be gone already
                logger.warning("closing the SMTP connection failed", exc_info=True)
        _record_failures(issue_id=issue_id, transient=transient, permanent=permanent, result=result)


def _record_failures(*, issue_id, transient, permanent, result):
    now = timezone.now()
    for delivery, description in permanent:
        Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, error=description, updated_at=now)
        result.failed += 1
    # Rows retried after different delays each get chunk tasks due at their own time: one task due at the
    # shortest delay would find the later rows not yet due, and they would wait for the sweeper.
    retry_rows = Counter()
    for delivery, description in transient:
        attempts = delivery.attempts  # loaded after the claim counted this attempt
        if attempts >= settings.SUBSCRIBERS_MAX_ATTEMPTS:
            Delivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.FAILED, error=f"{description} (after {attempts} attempts)", updated_at=now
            )
            result.failed += 1
            continue
        delay = backoff(attempts)
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.PENDING,
            error=description,
            next_attempt_at=now + timedelta(seconds=delay),
            claimed_at=None,
            updated_at=now,
        )
        retry_rows[delay] += 1
        result.retry += 1
    for delay, rows in sorted(retry_rows.items()):
        enqueue_chunks(issue_id=issue_id, rows=rows, countdown=delay)


def deliveries_sweep(*, now=None, dry_run=False):
    """Re-queue what a dead worker left: rows "sending" for longer than any task may run go back to pending
    (or fail, after the last attempt), and due pending rows nobody has touched for that long get chunk tasks
    again (their task was lost). Returns ``{"requeued", "forgotten", "failed"}``."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.SUBSCRIBERS_SENDING_TIMEOUT)
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    with transaction.atomic():
        abandoned = Delivery.objects.select_for_update(skip_locked=True).filter(
            status=DeliveryStatus.SENDING, claimed_at__lt=stale
        )
        abandoned_ids = list(abandoned.values_list("pk", "attempts"))
        last = [pk for pk, attempts in abandoned_ids if attempts >= settings.SUBSCRIBERS_MAX_ATTEMPTS]
        again = [pk for pk, attempts in abandoned_ids if attempts < settings.SUBSCRIBERS_MAX_ATTEMPTS]
        forgotten = list(
            Delivery.objects.filter(status=DeliveryStatus.PENDING, updated_at__lt=stale)
            .filter(due)
            .values_list("pk", flat=True)
        )
        report = {"requeued": len(again), "forgotten": len(forgotten), "failed": len(last)}
        if dry_run:
            return report
        Delivery.objects.filter(pk__in=last).update(
            status=DeliveryStatus.FAILED, error="abandoned by a worker after the last attempt", updated_at=now
        )
        Delivery.objects.filter(pk__in=again + forgotten).update(
            status=DeliveryStatus.PENDING, claimed_at=None, next_attempt_at=None, updated_at=now
        )
        by_issue = (
            Delivery.objects.filter(pk__in=again + forgotten).values("issue_id").annotate(rows=Count("id")).order_by()
        )
        for row in by_issue:
            transaction.on_commit(lambda i=row["issue_id"], n=row["rows"]: enqueue_chunks(issue_id=i, rows=n))
    if again or forgotten or last:
        logger.info("sweeper: %s", report)
    return report


def deliveries_retry_failed(*, issue_id, delivery_ids=None):
    """Put failed deliveries back in the queue (all of the issue's, or those given)."""
    now = timezone.now()
    with transaction.atomic():
        failed = Delivery.objects.filter(issue_id=issue_id, status=DeliveryStatus.FAILED)
        if delivery_ids is not None:
            failed = failed.filter(pk__in=delivery_ids)
        count = failed.update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=None, claimed_at=None, updated_at=now
        )
        if count:
            transaction.on_commit(lambda: enqueue_chunks(issue_id=issue_id, rows=count))
    return count
