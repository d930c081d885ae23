"""The staff roles and what each may do: the one table of them (README, Roles).

``ensure_roles`` gives each group exactly its role's permissions. It runs after every ``migrate`` (and every
``flush``) through a ``post_migrate`` handler (``dgd.apps``), so a release that changes this table needs no
migration, and no migration depends on this module: what an old migration does never changes with it.
"""

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
    # Workflow mail (issues.notices): see what was sent to whom, send a failed one again.
    "issues.view_issuenotice",
    "issues.change_issuenotice",
]

# The researchers' inbox (sources): watched sources and the candidates they bring in, triaged by researchers.
_INBOX = [
    "sources.view_source",
    "sources.add_source",
    "sources.change_source",
    "sources.view_candidate",
    "sources.change_candidate",
]
_INBOX_EDIT = ["sources.delete_source", "sources.delete_candidate"]

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
    RESEARCHER: _VIEW_CATALOGUE + _CURATE + _INBOX,
    CHIEF_EDITOR: _VIEW_CATALOGUE + _CURATE + _INBOX + _EDIT + _INBOX_EDIT + _SUBSCRIBERS + _UNLOCK_SIGN_INS,
    SALES: list(_VIEW_CATALOGUE),
}


def sync_roles(group_model, permission_model, *, strict=False, using="default"):
    """Give each group exactly its role's permissions; ``strict`` refuses any permission that is missing."""
    for name, perms in ROLES.items():
        group, _ = group_model.objects.using(using).get_or_create(name=name)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            found = (
                permission_model.objects.using(using)
                .filter(content_type__app_label=app_label, codename=codename)
                .first()
            )
            if found is None and strict:
                raise LookupError(f"role {name}: no permission {perm}")
            if found is not None:
                wanted.append(found)
        group.permissions.set(wanted)


def ensure_roles(*, apps=None, using="default", strict=True):
    """Create the permissions of every installed app (``migrate`` does so too, app by app), then sync the groups.

    ``apps`` is the model registry to use: ``post_migrate`` passes the migrated state's; by default the live one.
    """
    from django.apps import apps as live_apps
    from django.contrib.auth.management import create_permissions

    apps = apps or live_apps
    for app_config in live_apps.get_app_configs():  # (a migration state's app configs hold no models module)
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
    sync_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"), strict=strict, using=using)
