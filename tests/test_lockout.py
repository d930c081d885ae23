"""Failed sign-ins lock one (username, client address) pair, for a cool-off that grows, with a Chinese page that
says for how long; a chief editor lifts a lock from the admin (解除锁定)."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessAttemptExpiration, AccessFailureLog
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from accounts.services import login_lockouts_unlock
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db]

LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.AXES_FAILURE_LIMIT = 10
    settings.LOGIN_LOCKOUT_COOLOFF_MINUTES = 5
    settings.LOGIN_LOCKOUT_COOLOFF_MAX_MINUTES = 24 * 60
    settings.TRUSTED_PROXY_COUNT = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast: many sign-ins here


def sign_in(username, password, *, ip="198.51.100.1", forwarded=None, path=LOGIN):
    extra = {"REMOTE_ADDR": ip}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return Client().post(path, {"username": username, "password": password}, **extra)


def fail(username, times, **where):
    return [sign_in(username, "wrong-password", **where) for _ in range(times)]


def locked(response):
    text = response.content.decode()
    return response.status_code == 429 and "账户已暂时锁定" in text


def minutes(response):
    import re

    return int(re.search(r"锁定 (\d+) 分钟", response.content.decode()).group(1))


def rewind(minutes_ago):
    """What the clock would do: move every record of failures and lockouts ``minutes_ago`` into the past."""
    delta = timedelta(minutes=minutes_ago)
    for model, field in [
        (AccessAttempt, "attempt_time"),
        (AccessFailureLog, "attempt_time"),
        (AccessAttemptExpiration, "expires_at"),
    ]:
        for row in model.objects.all():
            setattr(row, field, getattr(row, field) - delta)
            row.save(update_fields=[field])


def test_failures_lock_the_pair_and_the_page_says_for_how_long_in_chinese():
    user = UserFactory(username="wangfang")
    answers = fail("wangfang", 10)
    assert all(response.status_code == 200 for response in answers[:9])
    assert locked(answers[9]) and minutes(answers[9]) == 5
    assert "Account locked" not in answers[9].content.decode()
    assert answers[9]["Retry-After"] == "300"
    # The right password from that address waits too ...
    assert locked(sign_in("wangfang", PASSWORD))
    # ... but the same person elsewhere signs in, and another account at that address is not held back.
    assert sign_in("wangfang", PASSWORD, ip="198.51.100.2").status_code == 302
    UserFactory(username="lihua")
    assert sign_in("lihua", PASSWORD).status_code == 302
    assert user.is_active


def test_behind_a_proxy_one_client_locks_only_itself(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    UserFactory(username="zhangwei")
    proxy = "10.0.0.1"  # every request arrives from the TLS proxy
    attacker = [
        sign_in("zhangwei", "guess", ip=proxy, forwarded=f"10.66.0.{i}, 203.0.113.66")  # spoofed leftmost entries
        for i in range(12)
    ]
    assert locked(attacker[9]) and locked(attacker[11])
    assert sign_in("zhangwei", PASSWORD, ip=proxy, forwarded="203.0.113.5").status_code == 302
    assert AccessAttempt.objects.get().ip_address == "203.0.113.66"


def test_the_cool_off_grows_with_each_lockout_and_ends():
    UserFactory(username="chenjing")
    assert minutes(fail("chenjing", 10)[-1]) == 5
    assert locked(sign_in("chenjing", "wrong-password"))  # failures during a lock do not prolong it
    assert minutes(sign_in("chenjing", PASSWORD)) == 5
    rewind(6)
    answers = fail("chenjing", 10)
    assert not any(locked(response) for response in answers[:9])
    assert minutes(answers[9]) == 10
    rewind(9)
    assert locked(sign_in("chenjing", PASSWORD))  # 9 of 10 minutes: still locked
    rewind(2)
    assert minutes(fail("chenjing", 10)[-1]) == 20
    rewind(21)
    assert sign_in("chenjing", PASSWORD).status_code == 302


def test_the_admin_sign_in_is_covered_too():
    UserFactory(username="admin-ish", is_staff=True)
    answers = fail("admin-ish", 10, path="/admin/login/")
    assert locked(answers[-1])


def test_a_chief_editor_unlocks_from_the_admin(chief_editor):
    UserFactory(username="zhaolei")
    fail("zhaolei", 10)
    fail("zhaolei", 10)  # and another pair, which stays locked
    fail("zhaolei", 10, ip="198.51.100.9")
    assert locked(sign_in("zhaolei", PASSWORD))
    editor = Client()
    editor.force_login(chief_editor)
    changelist = reverse("admin:axes_accessattempt_changelist")
    page = editor.get(changelist)
    assert page.status_code == 200 and "解除锁定" in page.content.decode()
    assert "delete_selected" not in page.content.decode()
    pk = AccessAttempt.objects.get(ip_address="198.51.100.1").pk
    response = editor.post(changelist, {"action": "unlock", "_selected_action": [pk]}, follow=True)
    assert "已解除 1 个登录锁定" in response.content.decode()
    assert sign_in("zhaolei", PASSWORD).status_code == 302
    assert locked(sign_in("zhaolei", PASSWORD, ip="198.51.100.9"))
    # The unlocked pair starts again at the shortest cool-off.
    assert minutes(fail("zhaolei", 10)[-1]) == 5


def test_only_those_allowed_may_unlock(researcher, chief_editor, admin_user):
    UserFactory(username="sunli")
    fail("sunli", 10)
    client = Client()
    client.force_login(researcher)
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert client.get(changelist).status_code == 403
    pk = AccessAttempt.objects.get().pk
    assert client.post(changelist, {"action": "unlock", "_selected_action": [pk]}).status_code == 403
    with pytest.raises(PermissionDenied):
        login_lockouts_unlock(attempts=AccessAttempt.objects.all(), by=researcher)
    assert locked(sign_in("sunli", PASSWORD))
    assert chief_editor.has_perm("axes.delete_accessattempt") and admin_user.has_perm("axes.delete_accessattempt")
    assert login_lockouts_unlock(attempts=AccessAttempt.objects.all(), by=admin_user) == 1
    assert sign_in("sunli", PASSWORD).status_code == 302
