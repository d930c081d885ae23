"""Cached permission sets (``dgd.auth``): a change of role reaches the very next request, in every process."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from dgd.roles import SALES
from tests.factories import UserFactory

LIBRARY = "/library/"


@pytest.fixture
def shared_cache(settings):
    """Permission sets cached (as with Redis; under the test run's Redis database when it has one)."""
    settings.DGD_CACHE_PERMISSIONS = True


pytestmark = [pytest.mark.django_db, pytest.mark.redis]


def test_removing_the_role_closes_the_library_on_the_next_request(client, shared_cache, django_assert_num_queries):
    user = UserFactory(role="sales")
    client.force_login(user)
    assert client.get(LIBRARY).status_code == 200
    with django_assert_num_queries(2):  # the user and the saved filters; session and permissions from the cache
        client.get(reverse("library:saved"))
    user.groups.remove(Group.objects.get(name=SALES))
    assert client.get(LIBRARY).status_code == 403
    user.groups.add(Group.objects.get(name=SALES))
    assert client.get(LIBRARY).status_code == 200


def test_a_permission_taken_from_the_group_is_gone_for_its_members(client, shared_cache):
    user = UserFactory(role="sales")
    client.force_login(user)
    assert client.get(LIBRARY).status_code == 200
    Group.objects.get(name=SALES).permissions.remove(Permission.objects.get(codename="view_entry"))
    assert client.get(LIBRARY).status_code == 403


def test_a_deactivated_user_is_signed_out_whatever_the_cache_holds(client, shared_cache):
    user = UserFactory(role="sales")
    client.force_login(user)
    assert client.get(LIBRARY).status_code == 200
    type(user).objects.filter(pk=user.pk).update(is_active=False)  # no signal: the user is read per request
    assert client.get(LIBRARY).status_code == 302


def test_one_user_s_cached_set_is_never_another_s(client, shared_cache):
    sales, nobody = UserFactory(role="sales"), UserFactory()
    client.force_login(sales)
    assert client.get(LIBRARY).status_code == 200
    client.force_login(nobody)
    assert client.get(LIBRARY).status_code == 403
    nobody.groups.add(Group.objects.get(name=SALES))
    assert client.get(LIBRARY).status_code == 200


def test_a_role_taken_away_in_the_admin_reaches_the_next_request(client, shared_cache, admin_client):
    user = UserFactory(role="researcher")
    client.force_login(user)
    assert client.get(LIBRARY).status_code == 200
    assert not user.has_perm("issues.publish_issue")
    data = {  # the user's change form with every role unticked
        "username": user.username,
        "is_active": "on",
        "is_staff": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    assert admin_client.post(reverse("admin:auth_user_change", args=[user.pk]), data).status_code == 302
    assert client.get(LIBRARY).status_code == 403


def test_without_a_shared_cache_permissions_are_read_each_request(client, settings, django_assert_num_queries):
    settings.DGD_CACHE_PERMISSIONS = False
    user = UserFactory(role="sales")
    client.force_login(user)
    client.get(reverse("library:saved"))
    user.groups.remove(Group.objects.get(name=SALES))
    assert client.get(LIBRARY).status_code == 403
