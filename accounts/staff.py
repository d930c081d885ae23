"""Who may use the admin: membership of a staff role group (研究员, 主编) makes a user staff.

Putting someone in group 研究员 is how an administrator says "this person curates"; asking them to tick
"staff status" as well was a trap (the user could not sign in and was told only that the account was
wrong). ``User.groups`` changes keep ``is_staff`` in step (``sync_on_group_change``, connected in
``accounts.apps``): joining a staff role group grants it; leaving the last one takes it back, unless the user is a
superuser. Sales (销售) is not a staff role: sales staff use the library, not the admin.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from dgd.roles import CHIEF_EDITOR, RESEARCHER

STAFF_ROLE_GROUPS = (RESEARCHER, CHIEF_EDITOR)


def in_staff_role(user):
    return user.groups.filter(name__in=STAFF_ROLE_GROUPS).exists()


def staff_status_grant(user):
    """A member of a staff role group is staff (also for accounts put in a group before this rule)."""
    if user.is_staff or not in_staff_role(user):
        return False
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return True


def staff_status_revoke(user):
    """Leaving the last staff role group ends staff status, unless the user is a superuser."""
    if not user.is_staff or user.is_superuser or in_staff_role(user):
        return False
    user.is_staff = False
    user.save(update_fields=["is_staff"])
    return True


def sync_on_group_change(sender, instance, action, reverse, pk_set, **kwargs):
    """m2m_changed of User.groups, from either side (user.groups.add(…) or group.user_set.add(…)).

    Only a change that involves a staff role group moves ``is_staff``: someone an administrator made staff by
    hand, with no role, stays so when they join or leave other groups."""
    if action not in ("post_add", "post_remove") or not pk_set:
        return
    if reverse:
        if instance.name not in STAFF_ROLE_GROUPS:
            return
        users = get_user_model().objects.filter(pk__in=pk_set)
    else:
        if not Group.objects.filter(pk__in=pk_set, name__in=STAFF_ROLE_GROUPS).exists():
            return
        users = [instance]
    change = staff_status_grant if action == "post_add" else staff_status_revoke
    for user in users:
        change(user)


def _when(moment):
    from django.utils import timezone

    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "—"


def name_sign_in_records():
    """django-axes' records name themselves in English ("Failed access: user … on … from …"); name them in
    Chinese instead (called once from ``AccountsConfig.ready``)."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.utils.translation import gettext as _

    def attempt(record):
        return _("failed sign-ins of %(username)s from %(address)s") % {
            "username": record.username or "—",
            "address": record.ip_address or "—",
        }

    def failure(record):
        return _("failed sign-in of %(username)s from %(address)s at %(time)s") % {
            "username": record.username or "—",
            "address": record.ip_address or "—",
            "time": _when(record.attempt_time),
        }

    def access(record):
        return _("sign-in of %(username)s from %(address)s at %(time)s") % {
            "username": record.username or "—",
            "address": record.ip_address or "—",
            "time": _when(record.attempt_time),
        }

    AccessAttempt.__str__ = attempt
    AccessFailureLog.__str__ = failure
    AccessLog.__str__ = access
