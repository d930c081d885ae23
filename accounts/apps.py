from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Signing in: the lockout policy for failed sign-ins and lifting a lock from the admin (over django-axes)."""

    name = "accounts"
    verbose_name = _("Sign-in")
