"""The lockout policy for failed sign-ins, over django-axes (settings: AXES_*, LOGIN_LOCKOUT_*).

AXES_FAILURE_LIMIT failures lock one (username, client address) pair, never a username for every address, so
someone guessing a colleague's password cannot lock the colleague out. The lock lasts
LOGIN_LOCKOUT_COOLOFF_MINUTES and doubles with each further lockout of the same pair within a day, up to
LOGIN_LOCKOUT_COOLOFF_MAX_MINUTES. Lockouts are counted from axes' failure log (the failure that locks is
logged with ``locked_out``; failures during a lock are not logged), and the k-th lockout of the day lasts
base × 2^(k-1): a fixed rule, so axes' stored expiry, its lock check and the page's "for how long" agree."""

import math
from datetime import timedelta

from axes.helpers import get_client_username
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.db.models import Max
from django.shortcuts import render
from django.utils import timezone

from dgd.client_ip import client_ip

WINDOW = timedelta(days=1)


def _duration(index):
    """How long the lockout with this 0-based index within the window lasts."""
    minutes = settings.LOGIN_LOCKOUT_COOLOFF_MINUTES * 2 ** min(index, 30)
    return timedelta(minutes=min(minutes, settings.LOGIN_LOCKOUT_COOLOFF_MAX_MINUTES))


def _pair(request, credentials=None):
    ip_address = getattr(request, "axes_ip_address", None) or client_ip(request)
    return get_client_username(request, credentials), ip_address


def _now(request):
    return getattr(request, "axes_attempt_time", None) or timezone.now()


def cool_off(request):
    """AXES_COOLOFF_TIME: how long the current lock of this request's pair lasts, or the next one would."""
    if request is None:
        return _duration(0)
    username, ip_address = _pair(request)
    now = _now(request)
    started = list(
        AccessFailureLog.objects.filter(
            username=username, ip_address=ip_address, locked_out=True, attempt_time__gt=now - WINDOW
        )
        .order_by("attempt_time")
        .values_list("attempt_time", flat=True)
    )
    if started and started[-1] + _duration(len(started) - 1) > now:
        return _duration(len(started) - 1)  # locked now
    return _duration(len(started))


def locked_until(request, credentials=None):
    """When the lock on this request's pair ends."""
    username, ip_address = _pair(request, credentials)
    until = AccessAttempt.objects.filter(username=username, ip_address=ip_address).aggregate(
        until=Max("expiration__expires_at")
    )["until"]
    return until or _now(request) + cool_off(request)


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: a page in the visitor's language saying the account is locked, and for how long."""
    until = locked_until(request, credentials)
    minutes = max(1, math.ceil((until - timezone.now()).total_seconds() / 60))
    context = {"minutes": minutes, "until": until, "username": get_client_username(request, credentials) or ""}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response
