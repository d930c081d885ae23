"""SMTP, as every kind of mail meets it: which failures are worth retrying, how long to wait before the next
try, and how long one send may block (less than a lease, so a live sender always renews in time)."""

import smtplib

from django.conf import settings


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


def backoff(attempts, *, first=None):
    """Seconds before the next try of a message refused for now: ``first`` (``SUBSCRIBERS_RETRY_BACKOFF``)
    after the first attempt, doubled per attempt."""
    first = settings.SUBSCRIBERS_RETRY_BACKOFF if first is None else first
    return first * 2 ** max(attempts - 1, 0)


def smtp_timeout(lease=None):
    """A send may block at most half a lease (``SUBSCRIBERS_LEASE``, renewed every third of it between
    messages), so a live sender never loses its rows to the periodic check."""
    lease = settings.SUBSCRIBERS_LEASE if lease is None else lease
    limit = max(lease / 2, 1)
    return min(settings.EMAIL_TIMEOUT, limit) if settings.EMAIL_TIMEOUT else limit


def is_disconnect(error):
    """Whether the SMTP connection is gone after ``error`` (it is opened again for the next message)."""
    return isinstance(error, (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError))
