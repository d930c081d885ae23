from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Signing in: the lockout policy for failed sign-ins and lifting a lock from the admin (over django-axes);
    staff status that follows the role groups (accounts.staff)."""

    name = "accounts"
    verbose_name = _("Sign-in")

    def ready(self):
        from django.apps import apps
        from django.contrib.auth import get_user_model
        from django.db.models.signals import m2m_changed

        from accounts.staff import sync_on_group_change

        m2m_changed.connect(
            sync_on_group_change, sender=get_user_model().groups.through, dispatch_uid="accounts_staff_by_role"
        )
        # django-axes names its admin section after its label ("Axes") and its records in English: give them
        # names staff can read (the breadcrumbs, the list's checkboxes and the history show these).
        apps.get_app_config("axes").verbose_name = _("Sign-in security")
        from accounts.staff import name_sign_in_records

        name_sign_in_records()
