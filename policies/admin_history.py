"""History in the admin without a side door: a revert restores content, never workflow state."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from simple_history.admin import SimpleHistoryAdmin


class GuardedHistoryAdmin(SimpleHistoryAdmin):
    """django-simple-history's admin for a model with ``GUARDED_FIELDS`` (``policies.models.GuardedFieldsMixin``).

    A saved form — the change form or a history revert, which rebuilds the object from an old version with
    every field as it was then — keeps the guarded fields as they are stored: only their service changes
    them. ``history_locked(obj)`` refuses reverts outright (an issue from approval on); the refusal holds for
    a crafted POST too, not only for the hidden button.
    """

    def history_locked(self, obj):
        return False

    def revert_disabled(self, request, obj=None):
        if obj is not None:  # the history view passes the object as an old version rebuilt it: ask the row itself
            current = self.model._base_manager.filter(pk=obj.pk).first()
            if current is not None and self.history_locked(current):
                return True
        return super().revert_disabled(request, obj)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if not str(version_id).isdigit():
            raise Http404
        current = self.get_object(request, object_id)
        opts = self.model._meta
        if request.method == "POST" and current is None:
            # A deleted row is not brought back from its history: its workflow state would come back with it.
            self.message_user(request, _("A deleted record cannot be restored from its history."), messages.ERROR)
            return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        if request.method == "POST" and self.revert_disabled(request, current):
            self.message_user(request, _("This version cannot be restored now."), messages.ERROR)
            return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[current.pk]))
        return super().history_form_view(request, object_id, version_id, extra_context)

    def save_model(self, request, obj, form, change):
        if change and obj.pk is not None:
            stored = obj.guarded_stored_values()  # a rebuilt old version carries none: read from the row
            if not stored:
                raise PermissionDenied(_("A deleted record cannot be restored from its history."))
            for name, value in stored.items():
                setattr(obj, name, value)
            obj._guarded_loaded = {name: getattr(obj, name) for name in obj.GUARDED_FIELDS}
        super().save_model(request, obj, form, change)
