"""Signed links (django.core.signing): confirmation (expires, carries the preferences asked for) and the
management link used for the preference centre and unsubscribing (no expiry: it sits in every digest)."""

from django.conf import settings
from django.core import signing

CONFIRM_SALT = "subscribers.confirm"
MANAGE_SALT = "subscribers.manage"


class BadToken(Exception):
    """A forged, altered or expired token."""


def confirm_token(*, subscriber_id, preferences):
    return signing.dumps({"s": subscriber_id, "p": preferences}, salt=CONFIRM_SALT, compress=True)


def read_confirm_token(token):
    """``(subscriber_id, preferences)``; raises BadToken when forged, altered or older than the limit."""
    try:
        data = signing.loads(token, salt=CONFIRM_SALT, max_age=settings.SUBSCRIBERS_CONFIRM_MAX_AGE)
        return int(data["s"]), dict(data["p"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as error:
        raise BadToken(str(error)) from None


def manage_token(subscriber_id):
    return signing.Signer(salt=MANAGE_SALT).sign(str(subscriber_id))


def read_manage_token(token):
    try:
        return int(signing.Signer(salt=MANAGE_SALT).unsign(token))
    except (signing.BadSignature, ValueError) as error:
        raise BadToken(str(error)) from None
