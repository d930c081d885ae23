"""axes' AccessAttempt admin, with the action that lifts a lock (解除锁定); the admin's sign-in form."""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.apps import apps as django_apps
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.services import login_lockouts_unlock
from accounts.staff import staff_status_grant

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

    # axes' own columns are methods without a label (the list would head them "Status", "Expiration").
    @admin.display(description=_("status"))
    def status(self, obj):
        return super().status(obj)

    @admin.display(description=_("Expires At"))
    def expiration(self, obj):
        return super().expiration(obj)


class StaffAuthenticationForm(AdminAuthenticationForm):
    """The admin's sign-in, saying plainly why a valid account is turned away (Django says only that the
    username or password is wrong). A member of a staff role group is let in (and made staff) even if the
    account predates that rule."""

    def confirm_login_allowed(self, user):
        if not user.is_active:
            return super().confirm_login_allowed(user)
        if not user.is_staff:
            staff_status_grant(user)
        if not user.is_staff:
            raise ValidationError(
                _(
                    "This account cannot use the admin: it belongs to no staff role (研究员 or 主编). "
                    "Sales staff sign in to the library at %(url)s; ask an administrator if you need the admin."
                ),
                code="not_staff",
                params={"url": reverse("login")},
            )


admin.site.login_form = StaffAuthenticationForm


# -- permissions as staff read them -----------------------------------------------------------------------------
# Django stores permission names in English ("Can add policy") and offers every table's, internal ones included.
# The group and user forms offer the permissions of what the admin shows (its models and their inlines) and any
# already granted, each named in Chinese: 编目管理 | 政策 | 可添加政策.

DEFAULT_ACTIONS = {
    "add": _("Can add %(name)s"),
    "change": _("Can change %(name)s"),
    "delete": _("Can delete %(name)s"),
    "view": _("Can view %(name)s"),
}


def permission_label(permission):
    content_type = permission.content_type
    model = content_type.model_class()
    app = django_apps.get_app_config(content_type.app_label).verbose_name
    name = model._meta.verbose_name if model is not None else content_type.model
    action = permission.codename.partition("_")[0]
    if model is not None and permission.codename == f"{action}_{model._meta.model_name}" and action in DEFAULT_ACTIONS:
        text = DEFAULT_ACTIONS[action] % {"name": name}
    else:
        text = gettext(permission.name)
    return f"{app} | {name} | {text}"


def assignable_permissions(granted=()):
    models = set(admin.site._registry)
    for model_admin in admin.site._registry.values():
        models.update(inline.model for inline in model_admin.inlines)
    content_types = ContentType.objects.get_for_models(*models, for_concrete_models=False).values()
    return (
        Permission.objects.filter(Q(content_type__in=content_types) | Q(pk__in=list(granted)))
        .select_related("content_type")
        .order_by("content_type__app_label", "content_type__model", "codename")
    )


class PermissionLabelsMixin:
    permission_field = "permissions"

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == self.permission_field and field is not None:
            obj = self.get_object(request, request.resolver_match.kwargs.get("object_id")) if request else None
            granted = getattr(obj, self.permission_field).values_list("pk", flat=True) if obj else ()
            field.queryset = assignable_permissions(granted)
            field.label_from_instance = permission_label
        return field


class RoleGroupAdmin(PermissionLabelsMixin, GroupAdmin):
    pass


class StaffUserAdmin(PermissionLabelsMixin, UserAdmin):
    permission_field = "user_permissions"


for _model, _admin_class in ((Group, RoleGroupAdmin), (get_user_model(), StaffUserAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin_class)
