"""Writes of the alerts: the owner's settings, and the run that mails what is new.

A run (``alerts_send``) handles each due alert in three steps, so every entry is announced once per alert:
1. in one transaction, with the alert's row locked: the entries that became ready in its window and are not
   yet recorded are recorded as one ``AlertMail`` (a unique (alert, entry) row each), leased to this run;
2. the mail is sent over the run's one SMTP connection;
3. it is marked sent.
A worker killed between 1 and 3 leaves the mail pending: once its lease runs out, the next run sends it again
(at most the message in flight is repeated, as with the digests). Nothing new: no mail, only the window moves.
"""

import contextlib
import datetime
import logging
import smtplib
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.mail import alert_message, mail_templates
from alerts.models import Alert, AlertMail, AlertMailEntry, Frequency, new_feed_key
from alerts.schedule import latest_slot
from alerts.selectors import new_entry_ids, window_start
from library.models import SavedFilter
from mailings.transport import backoff, classify_error, is_disconnect, smtp_timeout

logger = logging.getLogger(__name__)

VIEW_PERMISSION = ("policies", "view_entry")  # who may read the library may have its alerts


def _owned_filter(*, user, saved_filter_id):
    if not (user.is_active and user.has_perm(".".join(VIEW_PERMISSION))):
        raise PermissionDenied(_("You may not use the library's alerts."))
    saved_filter = SavedFilter.objects.filter(user=user, pk=saved_filter_id).first()
    if saved_filter is None:
        raise ValidationError(_("No such saved filter."))
    return saved_filter


@transaction.atomic
def alert_set_frequency(*, user, saved_filter_id, frequency, now=None):
    """Make ``user``'s saved filter an alert of ``frequency`` (or switch it off). Switching it on starts it
    now: nothing that became ready before is announced."""
    if frequency not in Frequency.values:
        raise ValidationError(_("Choose how often to be alerted."))
    saved_filter = _owned_filter(user=user, saved_filter_id=saved_filter_id)
    now = now or timezone.now()
    alert, _created = Alert.objects.select_for_update().get_or_create(saved_filter=saved_filter)
    if frequency != Frequency.OFF and (alert.frequency == Frequency.OFF or alert.since is None):
        alert.since = alert.checked_until = now
    alert.frequency = frequency
    alert.save()
    return alert


@transaction.atomic
def alert_feed_rotate(*, user, saved_filter_id):
    """A new feed address for the saved filter; the old one stops working at once."""
    saved_filter = _owned_filter(user=user, saved_filter_id=saved_filter_id)
    alert, _created = Alert.objects.select_for_update().get_or_create(saved_filter=saved_filter)
    alert.feed_key = new_feed_key()
    alert.save(update_fields=["feed_key"])
    return alert


def alert_unsubscribe(*, alert):
    """The one-click unsubscribe of an alert mail (its signed link): the alert is switched off."""
    return Alert.objects.filter(pk=alert.pk).update(frequency=Frequency.OFF)


def alert_for(saved_filter):
    """The saved filter's alert, created (switched off) when it has none: the feed needs its key."""
    alert, _created = Alert.objects.get_or_create(saved_filter=saved_filter)
    return alert


# --- The run ----------------------------------------------------------------------------------------


def _recipients():
    """Owners who may still read the library: active, with an address, and the view permission (directly,
    through a group, or as a superuser); an alert of anyone else is skipped."""
    app_label, codename = VIEW_PERMISSION
    permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    return (
        Q(saved_filter__user__is_active=True)
        & ~Q(saved_filter__user__email="")
        & (
            Q(saved_filter__user__is_superuser=True)
            | Q(saved_filter__user__groups__permissions__in=permission)
            | Q(saved_filter__user__user_permissions__in=permission)
        )
    )


def alerts_due(*, frequency, now):
    """Ids of the alerts a run of ``frequency`` handles now (see ``alerts.schedule``)."""
    alerts = Alert.objects.filter(_recipients(), frequency=frequency)
    slot = latest_slot(frequency, now)
    if slot is not None:
        alerts = alerts.filter(checked_until__lt=slot)
    return list(alerts.order_by("pk").values_list("pk", flat=True).distinct())


def mails_to_resend(*, now):
    """Ids of the alerts holding a mail still unsent whose lease ran out (its sender died or the server
    refused it for now), of any frequency: each run sends them again, up to ``ALERTS_MAX_ATTEMPTS`` times."""
    pending = AlertMail.objects.filter(sent_at=None, attempts__lt=settings.ALERTS_MAX_ATTEMPTS).filter(
        Q(leased_until=None) | Q(leased_until__lte=now)
    )
    alerts = Alert.objects.filter(_recipients(), pk__in=pending.values("alert_id")).exclude(frequency=Frequency.OFF)
    return list(alerts.order_by("pk").values_list("pk", flat=True).distinct())


def _due(alert, now):
    slot = latest_slot(alert.frequency, now)
    return alert.frequency != Frequency.OFF and (slot is None or alert.checked_until < slot)


def alert_claim(alert_id, *, now, dry_run=False):
    """Step 1 of a run for one alert: the mail it is to send now (recorded, leased to the caller), or None.

    A pending mail whose lease ran out is claimed again before anything new is looked at. With ``dry_run``,
    the number of entries a mail would carry (nothing is written)."""
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("saved_filter__user")
            .filter(pk=alert_id)
            .first()
        )
        if alert is None:  # another run holds it
            return None
        pending = alert.mails.filter(sent_at=None, attempts__lt=settings.ALERTS_MAX_ATTEMPTS).order_by("pk").first()
        if pending is not None:
            if dry_run:
                return pending.entry_count
            if pending.leased_until is not None and pending.leased_until > now:
                return None  # in flight in another run
            pending.leased_until = now + datetime.timedelta(seconds=settings.ALERTS_LEASE)
            pending.attempts += 1
            pending.save(update_fields=["leased_until", "attempts"])
            pending.alert = alert
            return pending
        if not _due(alert, now):
            return 0 if dry_run else None
        ids = new_entry_ids(alert, until=now)
        if dry_run:
            return len(ids)
        start = window_start(alert)
        alert.checked_until = now
        alert.save(update_fields=["checked_until"])
        if not ids:
            return None
        mail = AlertMail.objects.create(
            alert=alert,
            window_start=start,
            window_end=now,
            entry_count=len(ids),
            leased_until=now + datetime.timedelta(seconds=settings.ALERTS_LEASE),
            attempts=1,
        )
        AlertMailEntry.objects.bulk_create(
            AlertMailEntry(mail=mail, alert=alert, entry_id=pk, position=position) for position, pk in enumerate(ids)
        )
        return mail


def _mark_sent(mail):
    AlertMail.objects.filter(pk=mail.pk, sent_at=None).update(sent_at=timezone.now(), leased_until=None)


def _mark_failed(mail, now, *, transient):
    """A refusal for now (4xx, a dropped connection) leaves the mail pending, to be tried again after the
    engine's back-off (``mailings.transport``: twice the lease after the first attempt, doubled per attempt);
    a permanent one (5xx) gives it up at once, as ``ALERTS_MAX_ATTEMPTS`` failures would."""
    rows = AlertMail.objects.filter(pk=mail.pk, sent_at=None)
    if not transient:
        rows.update(leased_until=None, attempts=max(mail.attempts, settings.ALERTS_MAX_ATTEMPTS))
        return
    delay = backoff(mail.attempts, first=2 * settings.ALERTS_LEASE)
    rows.update(leased_until=now + datetime.timedelta(seconds=delay))


@dataclass
class RunReport:
    sent: int = 0
    failed: int = 0
    would_send: dict = field(default_factory=dict)  # dry run: alert id → number of entries


def alerts_send(*, frequency, now=None, dry_run=False, connection=None):
    """What the schedule runs for ``frequency`` (and ``manage.py send_alerts``): every due alert's mail, over
    one SMTP connection, then any mail left pending by an earlier run whose lease ran out."""
    now = now or timezone.now()
    report = RunReport()
    due = alerts_due(frequency=frequency, now=now)
    if dry_run:
        for alert_id in due:
            report.would_send[alert_id] = alert_claim(alert_id, now=now, dry_run=True)
        return report
    connection = connection or get_connection(fail_silently=False, timeout=smtp_timeout(settings.ALERTS_LEASE))
    templates = mail_templates()
    loaded = {}  # the entries the run's mails list, each read once (they are mostly the same few hundred)
    try:
        for alert_id in dict.fromkeys([*mails_to_resend(now=now), *due]):
            mail = alert_claim(alert_id, now=now)
            if mail is not None:
                alert_mail_send(mail, connection=connection, templates=templates, now=now, report=report, loaded=loaded)
    finally:
        connection.close()
    return report


def alert_mail_send(mail, *, connection, templates, now, report, loaded=None):
    """Steps 2 and 3: send a claimed mail, then mark it sent (or leave it for a later run to retry). The
    connection stays open from one mail to the next (``send_messages`` opens it when it is not)."""
    try:
        message = alert_message(mail, connection=connection, templates=templates, loaded=loaded)
        connection.open()
        connection.send_messages([message])
    except (smtplib.SMTPException, OSError) as error:
        transient, description = classify_error(error)
        logger.warning("alert mail %s not sent (attempt %s): %s", mail.pk, mail.attempts, description)
        _mark_failed(mail, now, transient=transient)
        report.failed += 1
        if is_disconnect(error):
            with contextlib.suppress(smtplib.SMTPException, OSError):
                connection.close()  # a connection the server dropped is opened again for the next mail
        return
    _mark_sent(mail)
    report.sent += 1
