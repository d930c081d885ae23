"""The staff roles: who may curate, who may delete, and that sales and anonymous visitors stay out of the admin."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from dgd import roles
from policies.models import Entry, Kind
from tests.factories import PASSWORD, EntryFactory, PracticeEntryFactory

pytestmark = [pytest.mark.django_db]

ENTRY_MODELS = ["policies.entry", "policies.policy", "policies.analysis", "policies.briefing", "practices.practice"]


def perm(model, action):
    app_label, model_name = model.split(".")
    return f"{app_label}.{action}_{model_name}"


def group_perms(name):
    return {
        f"{app_label}.{codename}"
        for app_label, codename in Group.objects.get(name=name).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def test_the_migration_creates_the_three_groups_with_the_listed_permissions():
    assert set(Group.objects.values_list("name", flat=True)) >= {"研究员", "主编", "销售"}
    for name, wanted in roles.ROLES.items():
        assert group_perms(name) == set(wanted), name


def test_ensure_roles_restores_a_group_that_drifted():
    researcher = Group.objects.get(name=roles.RESEARCHER)
    researcher.permissions.add(Permission.objects.get(content_type__app_label="policies", codename="delete_policy"))
    researcher.permissions.remove(Permission.objects.get(content_type__app_label="policies", codename="mark_ready"))
    roles.ensure_roles()
    roles.ensure_roles()  # idempotent
    assert group_perms(roles.RESEARCHER) == set(roles.ROLES[roles.RESEARCHER])
    assert Group.objects.filter(name=roles.RESEARCHER).count() == 1


@pytest.mark.parametrize("model", ENTRY_MODELS)
def test_a_researcher_adds_and_changes_every_kind_of_entry_but_deletes_none(researcher, model):
    assert researcher.has_perm(perm(model, "view"))
    assert researcher.has_perm(perm(model, "add"))
    assert researcher.has_perm(perm(model, "change"))
    assert not researcher.has_perm(perm(model, "delete"))


@pytest.mark.parametrize("model", ENTRY_MODELS)
def test_the_chief_editor_may_also_delete(chief_editor, model):
    for action in ("view", "add", "change", "delete"):
        assert chief_editor.has_perm(perm(model, action)), action


@pytest.mark.parametrize("model", ENTRY_MODELS)
def test_sales_may_only_view(sales, model):
    assert sales.has_perm(perm(model, "view"))
    for action in ("add", "change", "delete"):
        assert not sales.has_perm(perm(model, action)), action


def test_who_may_mark_entries_ready(researcher, chief_editor, sales):
    assert researcher.has_perm("policies.mark_ready")
    assert chief_editor.has_perm("policies.mark_ready")
    assert not sales.has_perm("policies.mark_ready")


def test_sales_hold_view_permissions_only_and_are_not_staff(sales, researcher, chief_editor):
    assert all(codename.split(".")[1].startswith("view_") for codename in sales.get_all_permissions())
    assert sales.get_all_permissions()
    assert not sales.is_staff
    assert researcher.is_staff and chief_editor.is_staff


def test_the_vocabulary_is_curated_by_researchers_and_pruned_by_the_chief_editor(researcher, chief_editor):
    assert researcher.has_perm("policies.add_theme") and researcher.has_perm("policies.change_partner")
    assert not researcher.has_perm("policies.delete_theme")
    assert chief_editor.has_perm("policies.delete_theme")


# -- the admin's doors --------------------------------------------------------------------------


@pytest.fixture
def policy():
    return EntryFactory(regions=[510000])


def change_url(entry):
    return reverse("admin:policies_policy_change", args=[entry.pk])


def assert_sent_to_login(response, url):
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:login')}?next={url}"


def test_an_anonymous_visitor_is_sent_to_the_admin_login(client, policy):
    for url in (reverse("admin:index"), reverse("admin:policies_policy_changelist"), change_url(policy)):
        assert_sent_to_login(client.get(url), url)


def test_sales_cannot_reach_the_admin_change_page(client, sales, policy):
    client.force_login(sales)
    url = change_url(policy)
    assert_sent_to_login(client.get(url), url)
    response = client.post(url, {"title": "改掉"})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.title != "改掉"


def test_sales_cannot_sign_in_to_the_admin_with_their_password(client, sales):
    response = client.post(reverse("admin:login"), {"username": sales.username, "password": PASSWORD})
    assert response.status_code == 200  # the form again, with an error
    assert response.context["form"].errors
    assert "_auth_user_id" not in client.session


def test_a_researcher_signs_in_through_the_login_form(client, researcher):
    response = client.post(
        reverse("admin:login"), {"username": researcher.username, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == researcher.pk


def test_a_researcher_opens_a_change_page_but_may_not_delete(client, researcher, policy):
    client.force_login(researcher)
    assert client.get(change_url(policy)).status_code == 200
    delete_url = reverse("admin:policies_policy_delete", args=[policy.pk])
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert Entry.objects.filter(pk=policy.pk).exists()


def test_the_chief_editor_deletes_an_entry_through_the_admin(client, chief_editor, policy):
    client.force_login(chief_editor)
    delete_url = reverse("admin:policies_policy_delete", args=[policy.pk])
    assert client.get(delete_url).status_code == 200
    response = client.post(delete_url, {"post": "yes"})
    assert response.status_code == 302
    assert not Entry.objects.filter(pk=policy.pk).exists()


def test_a_researcher_is_not_offered_bulk_delete_but_the_chief_editor_is(client, researcher, chief_editor, policy):
    url = reverse("admin:policies_policy_changelist")
    client.force_login(researcher)
    actions = dict(client.get(url).context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions
    client.force_login(chief_editor)
    actions = dict(client.get(url).context["action_form"].fields["action"].choices)
    assert "delete_selected" in actions


def test_a_researcher_adds_a_practice_through_its_own_admin(client, researcher):
    client.force_login(researcher)
    PracticeEntryFactory()
    assert client.get(reverse("admin:practices_practice_add")).status_code == 200
    response = client.get(reverse("admin:practices_practice_changelist"))
    assert response.status_code == 200
    assert all(entry.kind == Kind.PRACTICE for entry in response.context["cl"].result_list)
