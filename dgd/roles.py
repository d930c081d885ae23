"""The staff roles and what each may do. A data migration creates the groups; ``ensure_roles`` brings
them up to date (after a test flushed the tables, or when a release adds a permission)."""

RESEARCHER = "研究员"
CHIEF_EDITOR = "主编"
SALES = "销售"

_VIEW_CATALOGUE = [
    "policies.view_entry",
    "policies.view_policy",
    "policies.view_analysis",
    "policies.view_briefing",
    "practices.view_practice",
    "policies.view_region",
    "policies.view_theme",
    "policies.view_partner",
    "issues.view_issue",
    "issues.view_series",
    "issues.view_issueentry",
]
_CURATE = [
    f"{app}.{action}_{model}"
    for app, model in [
        ("policies", "entry"),
        ("policies", "policy"),
        ("policies", "analysis"),
        ("policies", "briefing"),
        ("practices", "practice"),
    ]
    for action in ("add", "change")
] + [
    "policies.mark_ready",
    "policies.add_theme",
    "policies.change_theme",
    "policies.add_partner",
    "policies.change_partner",
    "policies.add_region",
    "policies.change_region",
    "issues.add_issue",
    "issues.change_issue",
    "issues.add_issueentry",
    "issues.change_issueentry",
    "issues.delete_issueentry",
    "issues.submit_issue",
]
_EDIT = [
    "policies.delete_entry",
    "policies.delete_policy",
    "policies.delete_analysis",
    "policies.delete_briefing",
    "practices.delete_practice",
    "policies.delete_theme",
    "policies.delete_partner",
    "issues.add_series",
    "issues.change_series",
    "issues.delete_issue",
    "issues.approve_issue",
    "issues.publish_issue",
    "issues.view_issuerevision",
    "issues.view_issueevent",
]

# Subscribers and their deliveries: the chief editor manages them (list, import, export, retry failed).
_SUBSCRIBERS = [
    "subscribers.view_subscriber",
    "subscribers.add_subscriber",
    "subscribers.change_subscriber",
    "subscribers.delete_subscriber",
    "subscribers.view_delivery",
    "subscribers.change_delivery",
]

# Sign-in locks (django-axes): the chief editor sees them and lifts them (the admin's 解除锁定 action).
_UNLOCK_SIGN_INS = [
    "axes.view_accessattempt",
    "axes.delete_accessattempt",
]

ROLES = {
    RESEARCHER: _VIEW_CATALOGUE + _CURATE,
    CHIEF_EDITOR: _VIEW_CATALOGUE + _CURATE + _EDIT + _SUBSCRIBERS + _UNLOCK_SIGN_INS,
    SALES: list(_VIEW_CATALOGUE),
}


def sync_roles(group_model, permission_model, *, strict=False):
    """Give each group exactly its role's permissions.

    A migration runs this with the models as they stood then, when permissions added by later migrations
    do not exist yet; those are skipped there (a later migration runs it again). ``strict`` refuses any
    permission that is missing.
    """
    for name, perms in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            found = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if found is None and strict:
                raise LookupError(f"role {name}: no permission {perm}")
            if found is not None:
                wanted.append(found)
        group.permissions.set(wanted)


def sync_roles_in_migration(apps, schema_editor=None):
    """A migration's step: create the permissions that exist at that point, then sync the groups."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True  # permissions are normally created after migrate
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def ensure_roles():
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    sync_roles(Group, Permission, strict=True)
