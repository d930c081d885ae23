"""Provinces and the GB/T 2260 vocabulary (every province, city and county, policies/data/gbt2260.csv) are
read-only for everyone but an administrator; staff add the places GB/T 2260 lacks (a development zone) below
them, each inside its own province."""

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


def test_a_researcher_adds_a_development_zone_inside_its_city(client, researcher):
    client.force_login(researcher)
    add = reverse("admin:policies_region_add")
    zone = region_form(
        code=410171, name="郑州高新技术产业开发区", short_name="郑州高新区", kind="county", parent=410100
    )
    response = client.post(add, zone)
    assert response.status_code == 302
    assert Region.objects.get(code=410171).parent_id == 410100
    # and may correct it afterwards
    response = client.post(change_url(410171), {**zone, "code": "", "short_name": "高新区"})
    assert response.status_code == 302
    assert Region.objects.get(code=410171).short_name == "高新区"


@pytest.mark.parametrize("code", [320500, 320583, 321282])
def test_staff_cannot_change_a_gbt2260_city_or_county(client, researcher, code):
    region = Region.objects.get(code=code)
    client.force_login(researcher)
    assert 'name="name"' not in client.get(change_url(code)).content.decode()
    response = client.post(change_url(code), region_form(name="改名", short_name="改", parent=region.parent_id))
    assert response.status_code == 403
    assert Region.objects.get(code=code).name == region.name
    region.name = "改名"
    with pytest.raises(PermissionDenied):
        region_save(region=region, by=researcher)


def test_a_researcher_cannot_add_a_region_under_a_gbt2260_code(researcher):
    with pytest.raises(ValidationError):
        region_save(
            region=Region(code=320583, name="昆山", short_name="昆山", kind="county", parent_id=320500), by=researcher
        )
    assert Region.objects.get(code=320583).name == "昆山市"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"code": 330171, "name": "某开发区", "short_name": "某区", "parent": 320000}, "不在江苏省的范围内"),
        ({"code": 320571, "name": "苏州工业园区", "short_name": "苏州园区"}, "必须隶属于"),
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
            region=Region(code=320571, name="苏州工业园区", short_name="园区", kind="county", parent_id=320500),
            by=sales,
        )


def test_the_service_refuses_a_city_outside_its_parent(researcher):
    zone = Region(code=330171, name="某开发区", short_name="某区", kind="county", parent_id=320000)
    with pytest.raises(ValidationError):
        region_save(region=zone, by=researcher)
    assert not Region.objects.filter(code=330171).exists()


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
    Region.objects.create(code=320571, name="苏州工业园区", short_name="园区", kind="county", parent_id=320500)
    client.force_login(researcher)
    response = client.post(change_url(320571), region_form(name="苏州工业园区", short_name="园区", parent=310000))
    assert response.status_code == 200
    assert "不在上海市的范围内" in response.content.decode()
    assert Region.objects.get(code=320571).parent_id == 320500


def test_an_entry_tagged_with_a_county_is_found_under_its_city_and_its_province(
    client, sales, django_capture_on_commit_callbacks
):
    """昆山市 (320583) lies in 苏州市 (320500) in 江苏省 (320000): the library finds the entry under each."""
    from policies.models import CatalogueRegion
    from tests.factories import EntryFactory

    with django_capture_on_commit_callbacks(execute=True):  # tagging reindexes on commit (policies.receivers)
        entry = EntryFactory(title="昆山开县级市先河")
        entry.regions.set([Region.objects.get(code=320583)])
    indexed = set(CatalogueRegion.objects.filter(entry_id=entry.pk).values_list("region_id", flat=True))
    assert indexed == {320583, 320500, 320000}
    client.force_login(sales)
    for code in (320583, 320500, 320000):
        page = client.get(reverse("library:index"), {"region": str(code)}).content.decode()
        assert "昆山开县级市先河" in page, code
    assert "昆山开县级市先河" not in client.get(reverse("library:index"), {"region": "330000"}).content.decode()


@pytest.mark.parametrize(
    ("term", "first"), [("jj", 321282), ("靖江", 321282), ("郑州高新区", 410100), ("苏州", 320500)]
)
def test_region_autocomplete_finds_names_aliases_and_pinyin_initials(client, researcher, term, first):
    client.force_login(researcher)
    params = {"term": term, "app_label": "policies", "model_name": "entry", "field_name": "regions"}
    results = client.get(reverse("admin:autocomplete"), params).json()["results"]
    assert str(first) in [row["id"] for row in results]
    if term == "苏州":  # the city before its districts
        assert results[0]["id"] == "320500"


def autocomplete(client, term, field="regions", model="entry"):
    params = {"term": term, "app_label": "policies", "model_name": model, "field_name": field}
    return {row["id"]: row["text"] for row in client.get(reverse("admin:autocomplete"), params).json()["results"]}


def test_region_autocomplete_names_each_region_by_its_path(client, researcher, django_assert_max_num_queries):
    """Four 鼓楼区 (南京, 徐州, 福州, 开封): each reads with its province and city, the paths loaded in the one
    query that finds them (the request's own: session, user, permissions, the count and the page)."""
    client.force_login(researcher)
    with django_assert_max_num_queries(7):
        found = autocomplete(client, "鼓楼")
    assert found["320106"] == "江苏省 · 南京市 · 鼓楼区"
    assert found["320302"] == "江苏省 · 徐州市 · 鼓楼区"
    assert found["350102"] == "福建省 · 福州市 · 鼓楼区"
    assert autocomplete(client, "南京 鼓楼") == {"320106": "江苏省 · 南京市 · 鼓楼区"}  # a term may be the city
    assert autocomplete(client, "320106") == {"320106": "江苏省 · 南京市 · 鼓楼区"}  # the code
    assert autocomplete(client, "江苏")["320000"] == "江苏省"
    assert autocomplete(client, "东城", field="parent", model="region")["110101"] == "北京市 · 东城区"


def test_the_entry_form_and_list_filter_name_regions_by_their_path(client, researcher):
    from tests.factories import PracticeEntryFactory

    practice = PracticeEntryFactory(title="鼓楼区政务服务", regions=[320106, 350102])
    client.force_login(researcher)
    form = client.get(reverse("admin:practices_practice_change", args=[practice.pk])).content.decode()
    assert "江苏省 · 南京市 · 鼓楼区" in form and "福建省 · 福州市 · 鼓楼区" in form
    listing = client.get(reverse("admin:practices_practice_changelist")).content.decode()
    assert "江苏省 · 南京市 · 鼓楼区" in listing and "福建省 · 福州市 · 鼓楼区" in listing


def test_the_region_add_form_takes_the_code_as_text_not_a_spinner(client, researcher):
    client.force_login(researcher)
    page = client.get(reverse("admin:policies_region_add")).content.decode()
    assert 'type="number"' not in page and 'inputmode="numeric"' in page


def test_the_entry_form_suggests_regions_with_one_click_apply(client, researcher):
    from tests.factories import PracticeEntryFactory

    practice = PracticeEntryFactory(
        title="靖江政务服务“跨省通办”向基层延伸", summary="江苏靖江市积极落实", regions=[320000]
    )
    client.force_login(researcher)
    page = client.get(reverse("admin:practices_practice_change", args=[practice.pk])).content.decode()
    assert "江苏省泰州市靖江市" in page
    assert 'data-apply-to="regions"' in page and "321282" in page
