"""Every admin URL that changes state, generated from the admin site's own registry, × every role.

A URL is allowed to a role when the role's permissions (``dgd.roles.ROLES``, the roles table of README) hold
what it needs, and refused otherwise; a refused request changes nothing in the database. Registering a model
adds its add, change, delete, history-revert and action URLs here by itself; a custom admin URL must be named
in ``CUSTOM`` with the permission it needs (the test fails until it is).
"""

import hashlib

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import transaction
from django.urls import reverse

from dgd.roles import ROLES
from issues.workflow import TRANSITIONS
from tests.factories import IssueEntryFactory, IssueFactory, UserFactory

pytestmark = [pytest.mark.django_db]

ROLE_GROUPS = {"researcher": "研究员", "chief_editor": "主编", "sales": "销售"}

# Custom admin URLs (name → the permission that allows them; a callable takes the URL's kwargs).
WORKFLOW_PERMISSIONS = {name: t.permission for name, t in TRANSITIONS.items()} | {
    "assemble": "issues.change_issue",
    "regenerate_intro": "issues.change_issue",
    "revise": "issues.publish_issue",
}
CUSTOM = {
    "issues_issue_workflow": lambda kwargs: WORKFLOW_PERMISSIONS[kwargs["action"]],
    "subscribers_delivery_confirm_publication": lambda kwargs: "issues.publish_issue",
    "subscribers_delivery_report": "subscribers.change_delivery",  # a POST queues failed digests again
    "subscribers_delivery_progress": "subscribers.view_delivery",
    "subscribers_subscriber_import": "subscribers.add_subscriber",
    "policies_importjob_confirm": "policies.view_importjob",
    "policies_importjob_cancel": "policies.view_importjob",
    "auth_user_password_change": "auth.change_user",
    "sources_source_preview": "sources.change_source",  # reads the live page (a GET; nothing stored)
    "sources_candidate_take": "sources.change_candidate",  # and the add permission of policies (the service)
    "sources_candidate_ignore": "sources.change_candidate",
}
ACTION_PERMISSIONS = {"mark_ready": "policies.mark_ready", "merge": "policies.delete_theme"}
# django-import-export's pages on every model that has them (IMPORT_EXPORT_*_PERMISSION_CODE in settings); the
# list of all entries adds and imports nothing (each kind has its own form and sheet, which fix the kind).
SPREADSHEET = {"import": "add", "process_import": "add", "export": "view"}
NOBODY = {"policies_entry_add", "policies_entry_import", "policies_entry_process_import"}
STANDARD = ("changelist", "add", "history", "delete", "change", "simple_history")


def fingerprint():
    """A digest of every row of every model the admin registers, and of users and groups."""
    digest = hashlib.sha256()
    for model in [*admin.site._registry, apps.get_model("auth", "Permission")]:
        for row in model._base_manager.order_by("pk").values_list():
            digest.update(repr(row).encode())
    return digest.hexdigest()


@pytest.fixture
def catalogue(imported_sample, chief_editor):
    """One object of every registered model to act on (a place GB/T 2260 lacks: the standard regions are an
    admin's)."""
    from policies.models import Region
    from subscribers.models import Delivery, Subscriber

    Region.objects.create(code=320571, name="苏州工业园区", short_name="园区", kind="county", parent_id=320500)
    draft = IssueFactory(year=2023)  # the sample holds 2022-08
    IssueEntryFactory(issue=draft)
    subscriber = Subscriber.objects.create(email="reader@example.org", status="confirmed")
    Delivery.objects.create(issue=imported_sample, subscriber=subscriber)
    # the one acted on has no deliveries (deleting one that has needs delete_delivery too, which no role holds)
    Subscriber.objects.create(email="another@example.org", status="pending")
    return {"issues.issue": draft, "policies.region": Region.objects.get(code=320571)}


def target(model, catalogue):
    if model._meta.label_lower in catalogue:
        return catalogue[model._meta.label_lower]
    return model._default_manager.order_by("pk").last()


def requests(catalogue):
    """(url, data, permission or None) for every state-changing admin request."""
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        prefix = f"{opts.app_label}_{opts.model_name}_"
        perm = lambda action, o=opts: f"{o.app_label}.{action}_{o.model_name}"  # noqa: E731
        obj = target(model, catalogue)
        yield reverse(f"admin:{prefix}add"), {}, "nobody" if f"{prefix}add" in NOBODY else perm("add")
        if obj is not None:
            yield reverse(f"admin:{prefix}change", args=[obj.pk]), {}, perm("change")
            yield reverse(f"admin:{prefix}delete", args=[obj.pk]), {"post": "yes"}, perm("delete")
            history = getattr(obj, "history", None)
            if history is not None and hasattr(model_admin, "history_form_view"):
                version = history.order_by("history_id").first()
                if version is not None:
                    url = reverse(f"admin:{prefix}simple_history", args=[obj.pk, version.history_id])
                    yield url, {}, perm("change")
            changelist = reverse(f"admin:{prefix}changelist")
            for name in model_admin.actions or ():
                func = model_admin.get_action(name)[0]
                needed = [
                    perm(p) if p in ("add", "change", "delete", "view") else ACTION_PERMISSIONS[p]
                    for p in getattr(func, "allowed_permissions", ())
                ]
                data = {"action": name, "_selected_action": [obj.pk], "index": 0}
                yield changelist, data, needed[0] if needed else perm("change")
        for pattern in model_admin.get_urls():
            name = pattern.name or ""
            if not name.startswith(prefix) or name[len(prefix) :] in STANDARD:
                continue
            suffix = name[len(prefix) :]
            assert name in CUSTOM or suffix in SPREADSHEET, f"admin URL {name}: name the permission it needs in CUSTOM"
            for kwargs in _kwargs(pattern, obj, catalogue):
                if name in NOBODY:
                    needed = "nobody"
                elif suffix in SPREADSHEET:
                    needed = perm(SPREADSHEET[suffix])
                else:
                    needed = CUSTOM[name](kwargs) if callable(CUSTOM[name]) else CUSTOM[name]
                yield reverse(f"admin:{name}", kwargs=kwargs), {"comment": "x"}, needed


def _kwargs(pattern, obj, catalogue):
    converters = set(pattern.pattern.converters)
    base = {}
    for key in converters & {"pk", "object_id", "job_id", "id"}:
        if obj is None:
            return
        base[key] = obj.pk
    if "issue_id" in converters:
        base["issue_id"] = catalogue["issues.issue"].pk
    if "action" in converters:
        actions = WORKFLOW_PERMISSIONS if "pk" in converters else ("publish", "schedule")
        for action in actions:
            yield {**base, "action": action}
    else:
        yield base


def allowed(role, needed):
    if role in ("anonymous", "sales"):
        return False  # not staff: the admin is closed to them whatever they hold
    return needed in ROLES[ROLE_GROUPS[role]]


@pytest.mark.parametrize("role", ["anonymous", "sales", "researcher", "chief_editor"])
def test_every_state_changing_admin_url_is_allowed_or_refused_by_the_roles_table(client, role, catalogue):
    if role != "anonymous":
        client.force_login(UserFactory(role=role))
    before = fingerprint()
    checked = 0
    for url, data, needed in requests(catalogue):
        with transaction.atomic():
            response = client.post(url, data)
            assert response.status_code != 500, url
            if allowed(role, needed):
                assert response.status_code != 403, f"{role} refused at {url} ({needed})"
                assert "/login/" not in response.get("Location", ""), url
            elif role in ("anonymous", "sales"):  # turned away before any admin code runs
                assert response.status_code == 302 and "/login/" in response["Location"], url
            else:
                assert fingerprint() == before, f"{role} changed something at {url} ({data}) without {needed}"
            transaction.set_rollback(True)
        checked += 1
    assert checked > 60  # the generated list covers the whole admin
