"""A hostile or mistyped query string on an admin list or export is a 4xx (or the changelist's own ?e=1
redirect), never a 500."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Every changelist with a date hierarchy or a date filter, and the lists whose models have dates.
CHANGELISTS = [
    "policies_policy",
    "policies_analysis",
    "policies_briefing",
    "policies_entry",
    "practices_practice",
    "issues_issue",
    "subscribers_subscriber",
    "subscribers_delivery",
]

BAD = [
    {"published_on__year": "99999999999"},
    {"published_on__year": "2022", "published_on__month": "99999999999"},
    {"published_on__year": "2022", "published_on__month": "1", "published_on__day": "99999999999"},
    {"published_on__year": "-99999999999999999999"},
    {"published_on__year": "1e9"},
    {"published_on__gte": "99999-01-01"},
    {"published_on__lt": "2022-99-99"},
    {"created_at__year": "99999999999"},
    {"created_at__gte": "99999-01-01T00:00"},
    {"publish_at__year": "99999999999"},
    {"sent_at__year": "99999999999"},
    {"id__in": "x"},
    {"id__gt": "x"},
    {"pk": "9" * 40},
    {"foo": "1"},
    {"status__exact": "x" * 300},
]


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("name", CHANGELISTS)
def test_a_bad_lookup_on_a_changelist_is_never_a_500(admin_client, name):
    failures = []
    for params in BAD:
        response = admin_client.get(reverse(f"admin:{name}_changelist"), params)
        if response.status_code == 302 and "e=1" in response["Location"]:
            continue  # the changelist's own answer to a parameter it refuses
        if response.status_code == 400:
            assert "筛选条件" in response.content.decode()
            continue
        if response.status_code != 200:
            failures.append((params, response.status_code))
    assert not failures


EXPORTS = ["policies_policy", "policies_analysis", "policies_briefing", "policies_entry", "practices_practice"]
EXPORT_BAD = [
    {"foo": "1"},
    {"regoin": "110000"},
    {"published_on__year": "99999999999"},
    {"published_on__year": "2022", "published_on__month": "99999999999"},
    {"published_on__gte": "99999-01-01"},
    {"created_at__year": "99999999999"},
    {"id__in": "x"},
]


@pytest.mark.parametrize("name", EXPORTS)
def test_a_bad_parameter_on_an_export_is_a_400_in_chinese(admin_client, name):
    url = reverse(f"admin:{name}_export")
    for params in EXPORT_BAD:
        response = admin_client.get(url, params)
        assert response.status_code == 400, (params, response.status_code)
        assert "筛选条件" in response.content.decode()
    # The export page's own parameters are not filters.
    assert admin_client.get(url, {"format": "csv"}).status_code == 200
    assert admin_client.get(url, {"published_on__year": "2022", "o": "1"}).status_code == 200


def test_an_export_still_follows_the_changelists_filters(admin_client):
    from tests.factories import EntryFactory

    EntryFactory(kind="policy", title="甲文件", level="national")
    EntryFactory(kind="policy", title="乙文件", level="provincial")
    url = reverse("admin:policies_policy_export") + "?level__exact=national"
    form = admin_client.get(url).context["form"]
    data = {"resource": "0", "format": "1"}  # csv
    data.update({name: "on" for name, field in form.fields.items() if getattr(field, "is_selectable_field", False)})
    response = admin_client.post(url, data)
    assert response["Content-Disposition"].startswith("attachment")
    body = response.content.decode("utf-8-sig")
    assert "甲文件" in body and "乙文件" not in body
