"""Subscriptions: subscribing (double opt-in), confirming, preferences, the weekly 快讯 switch, pausing,
unsubscribing and erasing."""

import contextlib
import logging
import unicodedata
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mailings.models import Batch, Message
from mailings.services import batch_open
from policies.models import Region, RegionKind, Theme
from subscribers.models import (
    ConfirmationRequest,
    Delivery,
    DeliveryStatus,
    Scope,
    Subscriber,
    SubscriberStatus,
)
from subscribers.selectors import (
    confirmation_request_refusal,
)
from subscribers.tokens import BadToken, new_nonce, read_confirm_token, read_manage_token

logger = logging.getLogger(__name__)


def normalise_email(email):
    """The address as the mail system delivers it, as one key: compatibility forms folded (NFKC: a full-width
    ｅｘａｍｐｌｅ.com is example.com), the domain in its ASCII (IDNA) form, lower case. Rate limits and the
    unique subscriber row both key on it, so spelling an address differently reaches no one twice."""
    email = unicodedata.normalize("NFKC", email.strip())
    local, at, domain = email.rpartition("@")
    if at and domain:
        with contextlib.suppress(UnicodeError):  # not a valid domain: the address fails validation
            domain = domain.encode("idna").decode("ascii")
    return f"{local}{at}{domain}".lower()


def clean_preferences(*, provinces, themes, scope, weekly=False):
    """Preferences as plain data: province codes and theme slugs that exist, sorted, and whether the weekly
    快讯 is wanted too."""
    codes = sorted(
        Region.objects.filter(kind=RegionKind.PROVINCE, code__in=[int(c) for c in provinces]).values_list(
            "code", flat=True
        )
    )
    slugs = sorted(Theme.objects.filter(slug__in=list(themes)).values_list("slug", flat=True))
    scope = scope if scope in Scope.values else Scope.WHOLE
    return {"scope": scope, "provinces": codes, "themes": slugs, "weekly": bool(weekly)}


def _apply_preferences(subscriber, preferences):
    subscriber.provinces.set(preferences["provinces"])
    subscriber.themes.set(Theme.objects.filter(slug__in=preferences["themes"]))


# --- Subscribing ----------------------------------------------------------------------------------


def subscriber_subscribe(
    *,
    email,
    name="",
    organisation="",
    provinces=(),
    themes=(),
    scope=Scope.WHOLE,
    weekly=False,
    source="web",
    notice_version="",
):
    """Ask for a subscription. Whatever the address's state, the caller answers the same ("check your inbox");
    only the mail differs: a new or unconfirmed address gets a confirmation link for a request that keeps the
    preferences asked for on the server (nothing of an existing subscriber changes until that link is used), a
    confirmed one gets its preference-centre link."""
    email = normalise_email(email)
    preferences = clean_preferences(provinces=provinces, themes=themes, scope=scope, weekly=weekly)
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
        preferences = {**preferences, "name": name.strip(), "organisation": organisation.strip()}
        if notice_version:  # the privacy notice the form's consent box referred to, recorded on confirmation
            preferences["notice_version"] = notice_version
        request_id = None
        if not subscriber.is_confirmed:
            request_id = _confirmation_request_create(subscriber=subscriber, preferences=preferences).pk
        transaction.on_commit(lambda: _enqueue_subscriber_mail(subscriber.pk, preferences, request_id))
    return subscriber


def _confirmation_request_create(*, subscriber, preferences):
    """A request awaiting confirmation, holding the preferences asked for; the link names only its nonce."""
    now = timezone.now()
    # Requests whose links have expired can go (their links no longer verify anyway).
    subscriber.confirmation_requests.filter(
        created_at__lt=now - timedelta(seconds=settings.SUBSCRIBERS_CONFIRM_MAX_AGE)
    ).delete()
    return ConfirmationRequest.objects.create(
        subscriber=subscriber, nonce=new_nonce(), preferences=preferences, created_at=now
    )


def _enqueue_subscriber_mail(subscriber_id, preferences, request_id=None):
    """Queue the subscription mail under a key of its own: the task may run twice, the mail goes once."""
    from subscribers.tasks import send_subscriber_mail

    send_subscriber_mail.delay(subscriber_id, preferences, request_id, uuid.uuid4().hex)


def subscriber_send_confirmation(*, subscriber_id, preferences, request_id=None, key=None):
    """The confirmation mail for the request ``request_id`` (one is made for ``preferences`` when none is given),
    or, for a confirmed address, a mail with its preference-centre link: a batch of the mail engine (kind
    ``subscription``, ``subscribers.confirmations``) under ``key``, made once. Returns which mail (``confirm``,
    ``already``), or None when the subscriber is gone or the batch was made before."""
    from subscribers.confirmations import KIND

    params = {"subscriber_id": subscriber_id, "preferences": preferences, "request_id": request_id}
    batch, made = batch_open(kind=KIND, key=key or uuid.uuid4().hex, params=params)
    message = batch.messages.first() if made else None
    return message.payload["mail"] if message else None


def subscriber_confirm(*, token):
    """Use a confirmation link (a POST from its page): the subscription is confirmed with the preferences of the
    request it names, and the request is spent. Raises BadToken for a bad link, UsedToken for a used one and
    StaleToken for one asked for before the subscriber's last unsubscribe or preference change."""
    nonce = read_confirm_token(token)
    with transaction.atomic():
        subscriber_id = ConfirmationRequest.objects.filter(nonce=nonce).values_list("subscriber_id", flat=True).first()
        if subscriber_id is None:
            raise BadToken("no such request")
        # The subscriber first, then the request: the order unsubscribing and the preference centre lock in.
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber_id)
        request = ConfirmationRequest.objects.select_for_update().get(nonce=nonce)
        refusal = confirmation_request_refusal(request, subscriber)
        if refusal is not None:
            raise refusal
        preferences = request.preferences
        now = timezone.now()
        request.used_at = now
        request.save(update_fields=["used_at"])
        subscriber.preferences_requested_at = request.created_at
        if preferences.get("name"):
            subscriber.name = preferences["name"]
        if preferences.get("organisation"):
            subscriber.organisation = preferences["organisation"]
        subscriber.scope = preferences.get("scope", subscriber.scope)
        subscriber.weekly = preferences.get("weekly", subscriber.weekly)
        if not subscriber.is_confirmed:
            subscriber.status = SubscriberStatus.CONFIRMED
            subscriber.confirmed_at = now
            subscriber.consent_at = now
            subscriber.consent_notice_version = preferences.get("notice_version", "")
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


def subscriber_update_preferences(*, subscriber, name, organisation, provinces, themes, scope, weekly=None):
    """Save the preference centre's form (``weekly`` None keeps the 快讯 choice as it is). Confirmation links
    asked for before now no longer apply."""
    weekly = subscriber.weekly if weekly is None else weekly
    preferences = clean_preferences(provinces=provinces, themes=themes, scope=scope, weekly=weekly)
    with transaction.atomic():
        Subscriber.objects.select_for_update().filter(pk=subscriber.pk).first()
        subscriber.name, subscriber.organisation = name.strip(), organisation.strip()
        subscriber.scope, subscriber.weekly = preferences["scope"], preferences["weekly"]
        subscriber.preferences_requested_at = timezone.now()
        # Only these fields: an unsubscribe that came in meanwhile stays (the instance's status may be stale).
        subscriber.save(
            update_fields=["name", "organisation", "scope", "weekly", "preferences_requested_at", "updated_at"]
        )
        _apply_preferences(subscriber, preferences)
    return subscriber


def subscriber_preferences_changed(*, subscriber):
    """Staff changed a subscriber's preferences or status (the admin): confirmation links asked for before now
    must not undo it (``confirmation_request_refusal``)."""
    now = timezone.now()
    Subscriber.objects.filter(pk=subscriber.pk).update(preferences_requested_at=now, updated_at=now)


def subscriber_unsubscribe(*, subscriber_id):
    """Leave at once. Idempotent; ``unsubscribed_at`` records the latest request to leave, so no confirmation link
    asked for before it can subscribe the address again. Deliveries not yet claimed by a sender are skipped."""
    now = timezone.now()
    with transaction.atomic():
        status = Subscriber.objects.select_for_update().filter(pk=subscriber_id).values_list("status", flat=True)
        status = status.first()
        if status is None:
            return False
        Subscriber.objects.filter(pk=subscriber_id).update(
            status=SubscriberStatus.UNSUBSCRIBED, unsubscribed_at=now, updated_at=now
        )
        changed = status != SubscriberStatus.UNSUBSCRIBED
        Delivery.objects.filter(subscriber_id=subscriber_id, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SKIPPED, error="unsubscribed", updated_at=now
        )
    return bool(changed)


def subscriber_weekly_off(*, subscriber_id):
    """The 快讯's one-click unsubscribe: no more weekly mail (the monthly digest goes on); its messages not yet
    sent are skipped when their turn comes. Idempotent; returns whether the subscriber exists."""
    now = timezone.now()
    # A confirmation link asked for before this must not switch the 快讯 back on (as after a preference change).
    return bool(
        Subscriber.objects.filter(pk=subscriber_id).update(weekly=False, updated_at=now, preferences_requested_at=now)
    )


def subscriber_pause(*, subscriber_id, until):
    """Receive nothing until ``until`` (None resumes at once); the subscription stays confirmed."""
    return bool(Subscriber.objects.filter(pk=subscriber_id).update(paused_until=until, updated_at=timezone.now()))


def subscriber_erase(*, subscriber_id):
    """Delete everything held about a subscriber (PIPL's right to deletion): the row, its preferences, its
    pending confirmation requests, its delivery records and its mails of the mail engine (快讯, confirmations: they
    hold the address, and a subscription batch the name and organisation asked for). A later subscription starts
    afresh."""
    from subscribers.confirmations import KIND as SUBSCRIPTION
    from subscribers.weekly import KIND as WEEKLY

    with transaction.atomic():
        Message.objects.filter(batch__kind__in=[SUBSCRIPTION, WEEKLY], recipient=str(subscriber_id)).delete()
        Batch.objects.filter(kind=SUBSCRIPTION, params__subscriber_id=subscriber_id).update(params={})
        deleted, _counts = Subscriber.objects.filter(pk=subscriber_id).delete()
    return bool(deleted)
