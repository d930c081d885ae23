"""axes' AccessAttempt admin, with the action that lifts a lock (解除锁定)."""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.services import login_lockouts_unlock

if admin.site.is_registered(AccessAttempt):
    admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LockoutAdmin(AccessAttemptAdmin):
    actions = ["unlock"]

    @admin.action(description=_("Unlock"), permissions=["delete"])
    def unlock(self, request, queryset):
        try:
            count = login_lockouts_unlock(attempts=queryset, by=request.user)
        except PermissionDenied:
            self.message_user(request, _("You may not unlock sign-ins."), messages.ERROR)
            return
        self.message_user(
            request,
            ngettext("Unlocked %(count)d sign-in.", "Unlocked %(count)d sign-ins.", count) % {"count": count},
            messages.SUCCESS,
        )

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # unlocking is the one way to remove these rows
        return actions
