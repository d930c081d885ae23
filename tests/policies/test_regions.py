"""Provinces and the GB/T 2260 vocabulary are read-only for everyone but an administrator; staff add the cities
and districts below them, each inside its own province."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from policies.models import Region, RegionKind
from policies.services import region_save
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db]


def change_url(code):
    return reverse("admin:policies_region_change", args=[code])


def region_form(**values):
    return {"code": "", "name": "", "short_name": "", "kind": RegionKind.CITY, "parent": "", **values}


@pytest.mark.parametrize("role", ["researcher", "chief_editor"])
def test_staff_cannot_rename_a_province(client, request, role):
    client.force_login(request.getfixturevalue(role))
    page = client.get(change_url(110000))
    assert page.status_code == 200
    assert 'name="name"' not in page.content.decode()  # shown read-only
    response = client.post(change_url(110000), region_form(name="北平市", short_name="北平", kind="province"))
    assert response.status_code == 403
    assert Region.objects.get(code=110000).name == "北京市"
    assert client.post(reverse("admin:policies_region_delete", args=[110000]), {"post": "yes"}).status_code == 403
    assert Region.objects.filter(code=110000).exists()


def test_the_service_refuses_a_province_rename_whatever_calls_it(researcher):
    beijing = Region.objects.get(code=110000)
    beijing.name = "北平市"
    with pytest.raises(PermissionDenied):
        region_save(region=beijing, by=researcher)
    assert Region.objects.get(code=110000).name == "北京市"


def test_an_administrator_may_rename_a_province(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.post(change_url(110000), region_form(name="北京市", short_name="京", kind="province"))
    assert response.status_code == 302
    assert Region.objects.get(code=110000).short_name == "京"


def test_a_researcher_adds_a_city_inside_its_province(client, researcher):
    client.force_login(researcher)
    add = reverse("admin:policies_region_add")
    response = client.post(add, region_form(code=320500, name="苏州市", short_name="苏州", parent=320000))
    assert response.status_code == 302
    assert Region.objects.get(code=320500).parent_id == 320000
    # and may correct it afterwards
    response = client.post(change_url(320500), region_form(name="苏州市", short_name="姑苏", parent=320000))
    assert response.status_code == 302
    assert Region.objects.get(code=320500).short_name == "姑苏"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"code": 330100, "name": "杭州市", "short_name": "杭州", "parent": 320000}, "不在江苏省的范围内"),
        ({"code": 320500, "name": "苏州市", "short_name": "苏州"}, "必须隶属于"),
        ({"code": 990000, "name": "某省", "short_name": "某", "kind": "province"}, "只有管理员"),
        ({"code": 310000, "name": "上海市2", "short_name": "沪", "parent": 320000}, "代码"),
    ],
)
def test_a_researcher_cannot_add_a_province_or_a_misplaced_city(client, researcher, values, message):
    client.force_login(researcher)
    before = Region.objects.count()
    response = client.post(reverse("admin:policies_region_add"), region_form(**values))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Region.objects.count() == before


def test_sales_cannot_add_regions(sales):
    with pytest.raises(PermissionDenied):
        region_save(
            region=Region(code=320500, name="苏州市", short_name="苏州", kind="city", parent_id=320000), by=sales
        )


def test_the_service_refuses_a_city_outside_its_parent(researcher):
    city = Region(code=330100, name="杭州市", short_name="杭州", kind="city", parent_id=320000)
    with pytest.raises(ValidationError):
        region_save(region=city, by=researcher)
    assert not Region.objects.filter(code=330100).exists()


def test_only_someone_who_may_delete_themes_merges_them(client, researcher, chief_editor):
    from policies.models import Theme
    from policies.services import theme_merge

    mobile, network = Theme.objects.get(slug="mobile"), Theme.objects.get(slug="one-network")
    with pytest.raises(PermissionDenied):
        theme_merge(themes=[mobile], into=network, by=researcher)
    client.force_login(researcher)
    data = {"action": "merge", "_selected_action": [mobile.pk], "into": network.pk, "post": "yes"}
    client.post(reverse("admin:policies_theme_changelist"), data)
    assert Theme.objects.filter(pk=mobile.pk).exists()
    from subscribers.models import Subscriber

    reader = Subscriber.objects.create(email="reader@example.org")
    reader.themes.set([mobile])
    theme_merge(themes=[mobile], into=network, by=chief_editor)
    assert not Theme.objects.filter(pk=mobile.pk).exists()
    assert list(reader.themes.values_list("slug", flat=True)) == ["one-network"]  # preferences follow the merge


def test_moving_a_city_out_of_its_province_is_a_form_error_not_a_500(client, researcher):
    Region.objects.create(code=320500, name="苏州市", short_name="苏州", kind="city", parent_id=320000)
    client.force_login(researcher)
    response = client.post(change_url(320500), region_form(name="苏州市", short_name="苏州", parent=310000))
    assert response.status_code == 200
    assert "不在上海市的范围内" in response.content.decode()
    assert Region.objects.get(code=320500).parent_id == 320000
