"""Signed links (django.core.signing).

The confirmation link carries only a signed random nonce (TimestampSigner: it expires); the preferences asked
for stay on the server in a ``ConfirmationRequest`` row, so the link reveals nothing and can be used once.
The management link (preference centre and unsubscribing) names the subscriber and has no expiry: it sits in
every digest."""

import secrets

from django.conf import settings
from django.core import signing

# A new salt for the opaque links: the former links, which carried the preferences in readable form, no
# longer verify.
CONFIRM_SALT = "subscribers.confirm.v2"
MANAGE_SALT = "subscribers.manage"
# The 快讯's one-click unsubscribe: it switches off the weekly mail only, so it must not pass for a management link.
WEEKLY_SALT = "subscribers.weekly"


class BadToken(Exception):
    """A forged, altered or expired token, or one that names nothing."""


class UsedToken(BadToken):
    """A confirmation link that was used already."""


class StaleToken(BadToken):
    """A confirmation link asked for before the subscriber's last unsubscribe or preference change."""


def new_nonce():
    return secrets.token_urlsafe(24)


def confirm_token(nonce):
    return signing.TimestampSigner(salt=CONFIRM_SALT).sign(nonce)


def read_confirm_token(token):
    """The nonce a confirmation link carries; raises BadToken when forged, altered or older than the limit."""
    try:
        return signing.TimestampSigner(salt=CONFIRM_SALT).unsign(token, max_age=settings.SUBSCRIBERS_CONFIRM_MAX_AGE)
    except signing.BadSignature as error:
        raise BadToken(str(error)) from None


def _id_token(salt, subscriber_id):
    return signing.Signer(salt=salt).sign(str(subscriber_id))


def _read_id_token(salt, token):
    try:
        return int(signing.Signer(salt=salt).unsign(token))
    except (signing.BadSignature, ValueError) as error:
        raise BadToken(str(error)) from None


def manage_token(subscriber_id):
    return _id_token(MANAGE_SALT, subscriber_id)


def read_manage_token(token):
    return _read_id_token(MANAGE_SALT, token)


def weekly_token(subscriber_id):
    return _id_token(WEEKLY_SALT, subscriber_id)


def read_weekly_token(token):
    return _read_id_token(WEEKLY_SALT, token)
