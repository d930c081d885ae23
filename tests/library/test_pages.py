"""The entry page, the province page with its map, saved filters."""

import pytest
from django.urls import reverse

from library.models import SavedFilter
from policies.models import Entry
from tests.factories import EntryFactory, UserFactory
from tests.library.conftest import indexed


@pytest.fixture
def sales_client(client, sales):
    client.force_login(sales)
    return client


@pytest.mark.embedded
def test_the_entry_page_shows_tags_source_issue_and_related_entries(sales_client, imported_sample):
    entry = Entry.objects.get(title="靖江政务服务“跨省通办”向基层延伸")
    response = sales_client.get(reverse("library:entry", args=[entry.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "江苏省" in content and "跨省通办" in content
    assert str(imported_sample) in content
    related = response.context["related"]
    assert related and entry not in related
    assert all(
        {r.code for r in other.regions.all()} & {320000} or set(other.themes.all()) & set(entry.themes.all())
        for other in related
    )
    policy = Entry.objects.get(title="关于深化数字政府建设的实施意见")
    assert policy.source_url in sales_client.get(reverse("library:entry", args=[policy.pk])).content.decode() or (
        not policy.source_url
    )


@pytest.mark.embedded
def test_an_entry_that_is_not_ready_has_no_library_page(sales_client, db):
    draft = indexed(EntryFactory(status="draft"))
    assert sales_client.get(reverse("library:entry", args=[draft.pk])).status_code == 404
    assert sales_client.get(reverse("library:entry", args=[999999])).status_code == 404


@pytest.mark.embedded
def test_the_province_page_counts_by_theme_and_month_and_maps_the_current_filter(sales_client, imported_sample):
    response = sales_client.get(reverse("library:province", args=[320000]), {"theme": "cross-province"})
    assert response.status_code == 200
    by_theme = {theme.slug: n for theme, n in response.context["by_theme"]}
    assert by_theme["cross-province"] == 1
    assert by_theme["business-environment"] >= 1
    assert [(month.strftime("%Y-%m"), n) for month, n in response.context["by_month"]] == [("2022-08", 4)]
    assert len(response.context["latest"]) == 4
    svg = response.context["map"]
    assert svg.startswith("<svg") and 'data-code="320000" data-count="1"' in svg
    assert 'data-code="230000" data-count="1"' in svg  # 黑龙江's 跨省通办 practice
    assert 'data-code="540000" data-count="0"' in svg


@pytest.mark.embedded
def test_a_city_or_unknown_code_has_no_province_page(sales_client, kunshan):
    assert sales_client.get(reverse("library:province", args=[kunshan.code])).status_code == 404
    assert sales_client.get(reverse("library:province", args=[999999])).status_code == 404


@pytest.mark.embedded
def test_the_map_is_an_svg_of_its_own(sales_client, imported_sample):
    response = sales_client.get(reverse("library:map"), {"region": "320000"})
    assert response["Content-Type"].startswith("image/svg+xml")
    assert b'data-code="320000" data-count="4"' in response.content
    assert b"<script" not in response.content and b"http://" not in response.content.replace(
        b"http://www.w3.org/2000/svg", b""
    )


@pytest.mark.embedded
def test_saving_listing_and_deleting_a_filter(sales_client, sales, imported_sample):
    response = sales_client.post(
        reverse("library:saved"),
        {
            "name": "江苏跨省通办",
            "region": "320000",
            "theme": "cross-province",
            "page": "3",
            "csrfmiddlewaretoken": "x",
        },
    )
    assert response.status_code == 302
    saved = SavedFilter.objects.get(user=sales)
    assert saved.query == "region=320000&theme=cross-province"
    listing = sales_client.get(reverse("library:saved"))
    assert "江苏跨省通办" in listing.content.decode()
    page = sales_client.get(saved.get_absolute_url())
    assert [e.title for e in page.context["results"].entries] == ["靖江政务服务“跨省通办”向基层延伸"]
    duplicate = sales_client.post(reverse("library:saved"), {"name": "江苏跨省通办"})
    assert duplicate.status_code == 400
    other = UserFactory(role="sales")
    sales_client.force_login(other)
    assert "江苏跨省通办" not in sales_client.get(reverse("library:saved")).content.decode()
    sales_client.post(reverse("library:saved_delete", args=[saved.pk]))
    assert SavedFilter.objects.filter(pk=saved.pk).exists()  # not theirs
    sales_client.force_login(sales)
    sales_client.post(reverse("library:saved_delete", args=[saved.pk]))
    assert not SavedFilter.objects.filter(pk=saved.pk).exists()
