"""Writes: lifting sign-in locks (django-axes' records)."""

import logging

from axes.models import AccessAttempt, AccessFailureLog
from django.core.exceptions import PermissionDenied
from django.db import transaction

logger = logging.getLogger(__name__)

UNLOCK_PERMISSION = "axes.delete_accessattempt"


def login_lockouts_unlock(*, attempts, by):
    """Lift the locks on the (username, address) pairs of ``attempts`` (AccessAttempt rows): their failures are
    forgotten, and so are their past lockouts, so the next lock starts again at the shortest cool-off. A chief
    editor or an administrator may; anyone else gets PermissionDenied. Returns the number of pairs unlocked."""
    if not by.has_perm(UNLOCK_PERMISSION):
        raise PermissionDenied
    pairs = set(attempts.values_list("username", "ip_address"))
    with transaction.atomic():
        for username, ip_address in pairs:
            AccessAttempt.objects.filter(username=username, ip_address=ip_address).delete()
            AccessFailureLog.objects.filter(username=username, ip_address=ip_address).delete()
    for username, ip_address in sorted(pairs, key=str):
        logger.info("sign-in lock lifted for %r from %s by %s", username, ip_address, by.get_username())
    return len(pairs)
