"""The project's own app: what belongs to no one app. Today, the staff roles after every migrate, and the
signals that keep cached permission sets current (``dgd.auth``)."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _last_migrated_app(apps):
    """``migrate`` and ``flush`` send ``post_migrate`` once per app that has models, in INSTALLED_APPS order:
    the roles are synced once, at the last, when every app's permissions exist."""
    return [config for config in apps.get_app_configs() if config.models_module is not None][-1]


def ensure_roles_after_migrate(sender, using="default", apps=None, **kwargs):
    """Bring the staff groups to ``dgd.roles.ROLES`` after a migrate or a flush (a new database, a release that
    adds a permission, a test that flushed the tables). Migrations never do it: they must not import live code.
    """
    from django.apps import apps as live_apps

    from dgd.roles import ensure_roles

    if sender.label != _last_migrated_app(live_apps).label:
        return
    state = apps or live_apps
    try:
        state.get_model("auth", "Group")
        state.get_model("auth", "Permission")
    except LookupError:  # auth migrated back to zero
        return
    # Not strict: `migrate APP NUMBER` may stop before a permission the table names exists.
    ensure_roles(apps=state, using=using, strict=False)


class DgdConfig(AppConfig):
    name = "dgd"
    verbose_name = "DGD"

    def ready(self):
        from dgd.auth import connect_signals

        post_migrate.connect(ensure_roles_after_migrate, dispatch_uid="dgd.ensure_roles_after_migrate")
        connect_signals()
