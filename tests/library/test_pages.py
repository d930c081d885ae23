"""The entry page, the province page with its map, saved filters."""

import pytest
from django.urls import reverse

from library.models import SavedFilter
from policies.models import Entry
from tests.factories import EntryFactory, UserFactory
from tests.library.conftest import indexed


@pytest.mark.embedded
def test_the_entry_page_shows_tags_source_issue_and_related_entries(sales_client, imported_sample):
    entry = Entry.objects.get(title="靖江政务服务“跨省通办”向基层延伸")
    response = sales_client.get(reverse("library:entry", args=[entry.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "江苏省" in content and "跨省通办" in content
    assert str(imported_sample) in content
    related = Entry.objects.in_bulk([other.pk for other in response.context["related"]])
    assert related and entry.pk not in related
    assert all(
        {r.code for r in other.regions.all()} & {320000} or set(other.themes.all()) & set(entry.themes.all())
        for other in related.values()
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
    assert response.context["by_month"] == [("2022-08", 4)]
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
def test_the_map_is_a_tile_grid_of_the_34_divisions_with_a_legend_and_links(sales_client, imported_sample):
    import xml.etree.ElementTree as ET

    from library.maps import TILES

    response = sales_client.get(reverse("library:map"), {"theme": "cross-province", "region": "320000"})
    svg = ET.fromstring(response.content)  # well-formed XML
    ns = {"s": "http://www.w3.org/2000/svg"}
    tiles = svg.findall("s:g[@class]", ns)
    tiles = [tile for tile in tiles if tile.get("class").startswith("tile")]
    assert len(tiles) == 34 == len(TILES) == len(set(TILES.values()))  # one square each, none on another
    by_code = {int(tile.get("data-code")): tile for tile in tiles}
    assert set(by_code) == set(TILES)
    jiangsu = by_code[320000]
    assert "chosen" in jiangsu.get("class")
    link = jiangsu.find("s:a", ns)
    assert link.get("aria-label") == "江苏：1 条" and link.find("s:title", ns).text == "江苏：1 条"
    # a tile chooses its province instead of the chosen ones, the rest of the filter kept
    assert link.get("href") == "/library/?region=320000&theme=cross-province"
    assert by_code[110000].find("s:a", ns).get("href") == "/library/?region=110000&theme=cross-province"
    rects = {tile.get("data-code"): tile.find("s:a/s:rect", ns) for tile in tiles}
    assert len({(rect.get("x"), rect.get("y")) for rect in rects.values()}) == 34
    assert {rect.get("width") for rect in rects.values()} == {"54"}
    names = [tile.find("s:a/s:text[@class='name']", ns).text for tile in tiles]
    assert {"北京", "天津", "上海", "香港", "澳门", "台湾", "海南"} <= set(names)
    legend = svg.find("s:g[@class='legend']", ns)
    labels = [text.text for text in legend.findall("s:text", ns)]
    assert labels[0] == "条目数" and labels[1] == "0" and len(labels) >= 3
    assert by_code[540000].find("s:a/s:rect", ns).get("fill") == "#f3f4f6"  # none: grey, as the legend's 0


def test_the_shades_cover_every_count_up_to_the_largest():
    from library.maps import EMPTY, SHADES, bins, legend, shade

    assert bins(0) == [] and bins(1) == [1] and bins(3) == [1, 2, 3]
    bounds = bins(1000)
    assert bounds == [200, 400, 600, 800, 1000]
    assert shade(0, bounds) == EMPTY and shade(1, bounds) == SHADES[0] and shade(1000, bounds) == SHADES[-1]
    assert shade(1, bins(1)) == SHADES[-1]  # the largest is always the darkest
    assert [item["label"] for item in legend(bounds, approximate=True)] == [
        "0",
        "~1–200",
        "~201–400",
        "~401–600",
        "~601–800",
        "~801–1000",
    ]


@pytest.mark.embedded
def test_the_province_page_charts_its_cities(sales_client, kunshan):
    indexed(
        EntryFactory(title="昆山一件事一次办", regions=[kunshan.code]),
        EntryFactory(title="苏州市数据条例", regions=[320500]),
        EntryFactory(title="江苏省数字政府", regions=[320000]),
    )
    response = sales_client.get(reverse("library:province", args=[320000]))
    assert response.status_code == 200
    assert response.context["by_city"] == [(320500, "苏州", 2)]
    html = response.content.decode()
    assert 'id="by-city"' in html and 'href="/library/?region=320500"' in html
    assert sales_client.get("/library/?region=320500").context["count"] == 2


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


@pytest.mark.embedded
def test_listed_entries_hold_what_the_models_hold(imported_sample):
    """The lists' plain rows (one query on PostgreSQL, four elsewhere) against the entries and tags as models."""
    from library.selectors import entries_with_tags, listed_entries

    ids = list(imported_sample.items.order_by("-entry__published_on").values_list("entry_id", flat=True))
    listed = listed_entries(ids)
    models = entries_with_tags(ids)
    assert [row.pk for row in listed] == [entry.pk for entry in models] == ids
    for row, entry in zip(listed, models, strict=True):
        assert row.display_title == entry.display_title
        assert (row.kind, row.level, row.issuer, row.doc_number, row.summary) == (
            entry.kind,
            entry.level,
            entry.issuer,
            entry.doc_number,
            entry.summary,
        )
        assert (row.published_on, row.issued_on) == (entry.published_on, entry.issued_on)
        assert row.regions == tuple(region.short_name for region in entry.regions.all())
        assert row.themes == tuple(theme.name for theme in entry.themes.all())
        assert row.issues == tuple(str(item.issue) for item in entry.issue_items.all()) == (str(imported_sample),)
    assert any(len(row.regions) > 1 for row in listed) and any(len(row.themes) > 1 for row in listed)
