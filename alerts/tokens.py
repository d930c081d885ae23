"""Unguessable, login-free addresses of a saved filter: its private feed, and its alert's one-click unsubscribe.

A token is the saved filter's id and an HMAC (``django.core.signing``, keyed by ``SECRET_KEY``) of that id and
the alert's ``feed_key`` (empty until the owner first asks for a new address). Nothing secret is stored, so the
owner can be shown the current address at any time; rotating the key (``alerts.services.alert_feed_rotate``)
voids every earlier one at once."""

from django.core import signing
from django.utils.crypto import constant_time_compare

FEED_SALT = "alerts.feed"
UNSUBSCRIBE_SALT = "alerts.unsubscribe"


def _signature(saved_filter_id, feed_key, salt):
    return signing.Signer(salt=salt).signature(f"{saved_filter_id}:{feed_key}")


def filter_token(saved_filter_id, feed_key, *, salt=FEED_SALT):
    return f"{saved_filter_id}-{_signature(saved_filter_id, feed_key, salt)}"


def alert_token(alert, *, salt=FEED_SALT):
    return filter_token(alert.pk, alert.feed_key, salt=salt)


def saved_filter_from_token(token, *, salt=FEED_SALT):
    """``(saved filter, its alert or None)`` a token names, or None (malformed, forged, or voided by a
    rotation)."""
    from alerts.models import Alert
    from library.models import SavedFilter

    pk, _sep, signature = str(token).partition("-")
    if not pk.isdigit() or len(pk) > 18 or not signature:
        return None
    saved_filter = SavedFilter.objects.select_related("user").filter(pk=int(pk)).first()
    if saved_filter is None:
        return None
    alert = Alert.objects.filter(pk=saved_filter.pk).first()
    key = alert.feed_key if alert else ""
    if not constant_time_compare(signature, _signature(saved_filter.pk, key, salt)):
        return None
    return saved_filter, alert
