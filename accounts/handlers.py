"""axes' database handler, with each (username, address) pair's lock ending at its own stored expiry."""

from axes.handlers.database import AxesDatabaseHandler
from django.db.models import Q
from django.utils import timezone


class LockoutHandler(AxesDatabaseHandler):
    """AXES_HANDLER. axes counts the failures within one cool-off of now; with a cool-off that grows
    (accounts.lockout) the failures of a lock that has ended could fall inside the next, longer window and lock
    the pair again at once. Failures count only while their record has not expired."""

    def get_user_attempts(self, request, credentials=None):
        now = getattr(request, "axes_attempt_time", None) or timezone.now()
        unexpired = Q(expiration__isnull=True) | Q(expiration__expires_at__gt=now)
        return [attempts.filter(unexpired) for attempts in super().get_user_attempts(request, credentials)]
