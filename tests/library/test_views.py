"""The library page on the sample issue: filters, keyword search, facets, pagination, permissions."""

import pytest
from django.db.models import F
from django.urls import reverse

from library import selectors
from policies.models import CatalogueCount, Entry, Region
from tests.factories import EntryFactory, PracticeEntryFactory, UserFactory
from tests.library.conftest import indexed

URL = "/library/"


def titles(response):
    return [entry.title for entry in response.context["results"].entries]


# --- Permissions ---------------------------------------------------------------------------------


@pytest.mark.embedded
@pytest.mark.parametrize(
    "url",
    [
        URL,
        "/library/facets/",
        "/library/export.csv",
        "/library/export.xlsx",
        "/library/province/320000/",
        "/library/saved/",
        "/library/map.svg",
    ],
)
def test_anonymous_visitors_are_sent_to_the_login_page(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.embedded
@pytest.mark.parametrize("role", ["sales", "researcher", "chief_editor"])
def test_sales_researchers_and_chief_editors_may_use_the_library(client, db, role):
    client.force_login(UserFactory(role=role))
    assert client.get(URL).status_code == 200
    assert client.get("/library/facets/").status_code == 200


@pytest.mark.embedded
def test_a_signed_in_user_without_a_role_is_refused(client, db):
    client.force_login(UserFactory())
    assert client.get(URL).status_code == 403
    assert client.get("/library/export.csv").status_code == 403


@pytest.mark.embedded
def test_sales_cannot_reach_admin_change_pages(client, sales):
    entry = indexed(EntryFactory(regions=[320000]))
    client.force_login(sales)
    for url in (reverse("admin:index"), reverse("admin:policies_policy_change", args=[entry.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.embedded
def test_sales_sign_in_through_the_login_page_and_land_in_the_library(client, sales):
    from tests.factories import PASSWORD

    response = client.post(reverse("login"), {"username": sales.username, "password": PASSWORD, "next": URL})
    assert response.status_code == 302
    assert response["Location"] == URL
    response = client.get(URL)
    assert response.status_code == 200
    assert "政策库" in response.content.decode() or "Library" in response.content.decode()


# --- Filters on the sample issue ------------------------------------------------------------------


@pytest.mark.embedded
def test_jiangsu_and_cross_province_find_jingjiang(sales_client, imported_sample):
    response = sales_client.get(URL, {"region": "320000", "theme": "cross-province"})
    assert titles(response) == ["靖江政务服务“跨省通办”向基层延伸"]
    assert response.context["count"] == 1 and not response.context["approximate"]


@pytest.mark.embedded
def test_region_theme_kind_level_filters(sales_client, imported_sample):
    jiangsu = titles(sales_client.get(URL, {"region": "320000"}))
    assert len(jiangsu) == 4  # 2.2 and the practices 3.1–3.3
    practices = titles(sales_client.get(URL, {"region": "320000", "kind": "practice"}))
    assert len(practices) == 3
    national = sales_client.get(URL, {"level": "national"})
    assert {e.level for e in national.context["results"].entries} == {"national"}
    assert len(titles(national)) == 3  # 1.1, 1.2 and the briefing 5.1
    assert len(titles(sales_client.get(URL, {"level": "national", "kind": "policy"}))) == 2
    two = titles(sales_client.get(URL, {"region": ["320000", "330000"], "kind": "practice"}))
    assert len(two) == 4  # 江苏 3 + 浙江 1 (海曙)


@pytest.mark.embedded
def test_a_province_matches_entries_tagged_with_its_cities(sales_client, kunshan):
    city = indexed(PracticeEntryFactory(title="昆山企业服务平台上线", regions=[kunshan.code]))
    indexed(PracticeEntryFactory(title="杭州的实践", regions=[330000]))
    assert titles(sales_client.get(URL, {"region": "320000"})) == [city.title]
    assert titles(sales_client.get(URL, {"region": str(kunshan.code)})) == [city.title]
    assert titles(sales_client.get(URL, {"region": "320500"})) == [city.title]


@pytest.mark.embedded
def test_date_range_issuer_and_issue(sales_client, imported_sample):
    old = indexed(EntryFactory(title="旧政策", published_on="2021-03-01", regions=[320000]))
    assert titles(sales_client.get(URL, {"date_to": "2021-12-31"})) == [old.title]
    in_2022 = sales_client.get(URL, {"date_from": "2022-01-01", "date_to": "2022-12-31"}).context["count"]
    assert in_2022 == imported_sample.items.count()
    issuers = titles(sales_client.get(URL, {"issuer": "云南省人民政府办公厅"}))
    assert len(issuers) == 2
    by_issue = sales_client.get(URL, {"issue": imported_sample.key})
    assert by_issue.context["count"] == imported_sample.items.count()
    assert sales_client.get(URL, {"issue": str(imported_sample.pk)}).context["count"] == by_issue.context["count"]


@pytest.mark.embedded
def test_entries_not_ready_are_not_listed(sales_client, db):
    indexed(EntryFactory(title="草稿", status="draft"))
    ready = indexed(EntryFactory(title="就绪"))
    assert titles(sales_client.get(URL)) == [ready.title]


# --- Keyword search ------------------------------------------------------------------------------


def containing(word):
    return {e.title for e in Entry.objects.all() if word in e.title or word in e.summary or word in e.issuer}


@pytest.mark.embedded
@pytest.mark.parametrize(
    "word", ["证照", "一网通办", "跨省通办", "营商环境", "放管服", "电子证照", "告知承诺制", "数据"]
)
def test_keyword_finds_exactly_the_entries_containing_it(sales_client, imported_sample, word):
    response = sales_client.get(URL, {"q": word})
    assert set(titles(response)) == containing(word)
    assert response.context["count"] == len(containing(word))


def test_one_network_does_not_match_every_wang_and_ban(sales_client, imported_sample):
    found = set(titles(sales_client.get(URL, {"q": "一网通办"})))
    assert found == containing("一网通办")
    with_both = {e.title for e in Entry.objects.all() if "网" in e.summary and "办" in e.summary}
    assert len(with_both) > len(found)


def test_every_two_character_run_of_the_sample_is_found(sales_client, imported_sample):
    """Recall: for two-character queries taken from the sample's own text, normalised (punctuation and spaces
    dropped, so a run across them counts), exactly the entries whose normalised text holds them are found."""
    from policies.indexing import search_text

    entries = list(Entry.objects.all())
    texts = {
        e.title: search_text(title=e.title, issuer=e.issuer, summary=e.summary, doc_number=e.doc_number)
        for e in entries
    }
    words = set()
    for text in texts.values():
        words.update(text[i : i + 2] for i in range(0, len(text) - 1, 7))
    from library.selectors import Criteria, catalogue_rows
    from policies.indexing import query_tokens

    missed = []
    for word in sorted(words)[:300]:
        expected = {t for t, text in texts.items() if word in text}
        criteria = Criteria(keyword=word, tokens=tuple(query_tokens(word)))
        found = {e.title for e in Entry.objects.filter(pk__in=[pk for _d, pk in catalogue_rows(criteria)])}
        if found != expected:
            missed.append(word)
    assert missed == []


@pytest.mark.embedded
def test_relevance_sort_puts_title_matches_first(sales_client, imported_sample):
    response = sales_client.get(URL, {"q": "跨省通办", "sort": "relevance"})
    assert response.context["results"].ranked
    found = titles(response)
    assert set(found) == containing("跨省通办")
    in_title = [title for title in found if "跨省通办" in title]
    assert in_title and found[: len(in_title)] == in_title
    assert titles(sales_client.get(URL, {"q": "跨省通办"})) != found  # newest first otherwise


@pytest.mark.embedded
def test_keyword_and_province(sales_client, imported_sample):
    assert titles(sales_client.get(URL, {"q": "跨省通办", "region": "320000"})) == ["靖江政务服务“跨省通办”向基层延伸"]


# --- Facets, counts, pagination -------------------------------------------------------------------


def facet_counts(response, name, key):
    return {key(item["value"]): item["count"] for item in response.context[name]}


@pytest.mark.embedded
def test_facets_count_per_province_and_theme(sales_client, imported_sample):
    response = sales_client.get("/library/facets/", {"theme": "cross-province"})
    provinces = facet_counts(response, "province_facets", lambda region: region.short_name)
    assert provinces["江苏"] == 1
    themes = facet_counts(response, "theme_facets", lambda theme: theme.slug)
    # the theme facet leaves the chosen theme out: every theme's count is what choosing it shows
    assert themes["cross-province"] == sales_client.get(URL, {"theme": "cross-province"}).context["count"]
    assert themes["one-network"] == sales_client.get(URL, {"theme": "one-network"}).context["count"]
    assert [item["value"].slug for item in response.context["theme_facets"] if item["chosen"]] == ["cross-province"]
    content = response.content.decode()
    assert 'data-code="320000" data-count="1"' in content
    assert response.context["approximate_facets"] == set()


@pytest.mark.embedded
def test_a_facet_link_shows_the_number_it_was_next_to(sales_client, imported_sample):
    params = {"region": "320000", "theme": "cross-province", "kind": "practice"}
    response = sales_client.get("/library/facets/", params)
    items = response.context["province_facets"] + response.context["theme_facets"]
    assert len(items) > 3
    for item in items:
        page = sales_client.get(f"{URL}?{item['query']}")
        assert page.context["count"] == item["count"], item["query"]
        assert page.context["criteria"].kinds == ("practice",)
    html = response.content.decode()
    # another province instead of 江苏, another theme instead of 跨省通办; the rest of the filter kept
    assert 'href="/library/?region=230000&amp;theme=cross-province&amp;kind=practice"' in html
    assert 'href="/library/?region=320000&amp;theme=mobile&amp;kind=practice"' in html


@pytest.mark.embedded
def test_facets_under_a_keyword_and_a_region(sales_client, imported_sample):
    response = sales_client.get("/library/facets/", {"q": "跨省通办", "region": "320000"})
    provinces = facet_counts(response, "province_facets", lambda region: region.short_name)
    assert provinces["江苏"] == sales_client.get(URL, {"q": "跨省通办", "region": "320000"}).context["count"] == 1
    assert provinces == {
        region.short_name: sales_client.get(URL, {"q": "跨省通办", "region": region.code}).context["count"]
        for region in Region.objects.filter(
            code__in=[item["value"].code for item in response.context["province_facets"]]
        )
    }
    assert [item["value"].code for item in response.context["province_facets"] if item["chosen"]] == [320000]


@pytest.mark.embedded
def test_facets_are_cached_and_cleared_by_a_reindex(sales_client, imported_sample):
    def beijing():
        response = sales_client.get("/library/facets/", {"theme": "one-network"})
        return facet_counts(response, "province_facets", lambda region: region.code).get(110000, 0)

    indexed(EntryFactory(title="北京旧政", regions=[110000], themes=["one-network"]))
    first = beijing()
    assert first >= 1
    counted = CatalogueCount.objects.filter(region_id=110000, theme__slug="one-network")
    counted.update(entries=F("entries") + 100)
    assert beijing() == first  # from the cache, not the table
    counted.update(entries=F("entries") - 100)
    indexed(EntryFactory(title="北京新政", regions=[110000], themes=["one-network"]))
    assert beijing() == first + 1


@pytest.mark.embedded
def test_keyset_pages_walk_the_whole_list(sales_client, imported_sample, monkeypatch):
    monkeypatch.setattr(selectors, "PER_PAGE", 7)
    seen, response = [], sales_client.get(URL)
    while True:
        seen += titles(response)
        after = response.context["results"].next_after
        if not after:
            break
        response = sales_client.get(URL, {"after": after})
    assert len(seen) == len(set(seen)) == imported_sample.items.count()
    assert titles(sales_client.get(URL, {"page": "2"})) == seen[7:14]


@pytest.mark.embedded
def test_keyset_pages_over_several_regions_and_themes_hold_each_entry_once(sales_client, imported_sample, monkeypatch):
    monkeypatch.setattr(selectors, "PER_PAGE", 2)
    params = {"region": ["320000", "330000", "440000"], "theme": ["business-environment", "smart-service"]}
    expected = sales_client.get(URL, params).context["count"]
    seen, response = [], sales_client.get(URL, params)
    while True:
        seen += [entry.pk for entry in response.context["results"].entries]
        after = response.context["results"].next_after
        if not after:
            break
        response = sales_client.get(URL, {**params, "after": after})
    assert len(seen) == len(set(seen)) == expected > 2
    dates = [Entry.objects.get(pk=pk).published_on for pk in seen]
    assert dates == sorted(dates, reverse=True)


@pytest.mark.embedded
@pytest.mark.parametrize("size", [3, 20])
def test_the_list_page_makes_the_same_number_of_queries_whatever_its_size(
    sales_client, django_assert_num_queries, signed_in_queries, size, imported_sample, monkeypatch
):
    """Before the view, ``signed_in_queries``; then the rows, the entries with their regions, themes and issues
    (one query on PostgreSQL, four elsewhere), the saved filters, and the count: none when the first page holds
    every match (they are the count); else on PostgreSQL under a keyword the planner's estimate, the rows the
    other filters leave (up to 1,001) and, these being few, a capped exact count; on SQLite one exact count.
    The provinces and themes chosen are checked against the cached vocabulary, and the filter's choices are
    built from it: no query for either once it is cached."""
    from django.db import connection

    from library.filters import LibraryFilter

    if connection.vendor == "postgresql":  # the planner's figures for this small table, not a churned one's
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE policies_cataloguerow, policies_catalogueregion")
    monkeypatch.setattr(selectors, "PER_PAGE", size)
    params = {"region": ["320000", "330000"], "q": "政务"}
    matches = selectors.catalogue_rows(LibraryFilter(params).criteria()).count()
    assert 3 < matches < 20
    sales_client.get(URL)  # the vocabulary cached
    postgresql = connection.vendor == "postgresql"
    counting = 0 if size >= matches else (3 if postgresql else 1)
    with django_assert_num_queries(signed_in_queries + 1 + (1 if postgresql else 4) + 1 + counting):
        response = sales_client.get(URL, params)
    assert len(response.context["results"].entries) == min(size, matches)
    assert (response.context["count"], response.context["approximate"]) == (matches, False)


@pytest.mark.embedded
@pytest.mark.parametrize(
    ("url", "params", "postgresql", "sqlite"),
    [
        # PostgreSQL: the count from the counts table, the rows, the entries with their tags, the saved filters;
        # SQLite: the rows, the entries with their tags (4), the saved filters (the page holds every match)
        (URL, {"region": "320000"}, 4, 6),
        (URL, {"region": "320000", "theme": "cross-province", "kind": "practice"}, 4, 6),
        # an empty list: the count (PostgreSQL: 0 from the counts table, so no rows to walk; SQLite: the rows),
        # one count per value it offers to drop (3), the saved filters
        (URL, {"region": "320000", "theme": "cross-province", "kind": "briefing"}, 5, 5),
        # the catalogue version; the counts and the map from the cache
        ("/library/facets/", {"region": "320000"}, 1, 1),
        ("/library/map.svg", {"theme": "cross-province"}, 1, 1),
        # the version, the latest entries' rows, those entries with their tags; the summary and map cached
        ("/library/province/320000/", {"theme": "cross-province"}, 3, 6),
    ],
)
def test_each_library_page_makes_a_fixed_number_of_queries_once_its_caches_are_warm(
    sales_client, django_assert_num_queries, signed_in_queries, imported_sample, url, params, postgresql, sqlite
):
    """After ``signed_in_queries``, the view's own queries on each database."""
    from django.db import connection

    sales_client.get(url, params)  # the vocabulary, facets and summaries cached
    with django_assert_num_queries(signed_in_queries + (postgresql if connection.vendor == "postgresql" else sqlite)):
        assert sales_client.get(url, params).status_code == 200


# --- Chips, pages, the empty state, the other facets --------------------------------------------


@pytest.mark.embedded
def test_every_active_filter_value_is_a_chip_whose_link_drops_that_value(sales_client, imported_sample):
    params = {
        "region": ["320000", "330000"],
        "theme": "cross-province",
        "kind": "practice",
        "date_from": "2022-01-01",
        "issuer": "人民政府",
        "q": "通办",
        "sort": "relevance",
    }
    response = sales_client.get(URL, params)
    chips = {chip["label"]: chip["query"] for chip in response.context["chips"]}
    assert set(chips) == {"江苏", "浙江", "跨省通办", "创新实践", "2022-01-01 起", "发文机关：人民政府", "关键词：通办"}
    assert chips["江苏"] == (
        "region=330000&theme=cross-province&kind=practice&date_from=2022-01-01&issuer=%E4%BA%BA%E6%B0%91%E6%94%BF%E5%BA%9C"
        "&q=%E9%80%9A%E5%8A%9E&sort=relevance"
    )
    assert "kind=" not in chips["创新实践"] and "region=320000&region=330000" in chips["创新实践"]
    assert "q=" not in chips["关键词：通办"] and "sort=" not in chips["关键词：通办"]  # relevance needs a keyword
    html = response.content.decode()
    assert 'aria-label="去掉 江苏"' in html and "全部清除" in html


@pytest.mark.embedded
def test_pages_are_numbered_while_the_count_is_exact(sales_client, imported_sample, monkeypatch):
    monkeypatch.setattr(selectors, "PER_PAGE", 5)
    total = imported_sample.items.count()
    pages = -(-total // 5)
    response = sales_client.get(URL, {"kind": "policy", "page": "2"})
    pager = response.context["pager"]
    numbers = [item["number"] for item in pager["pages"] if item]
    count = response.context["count"]
    assert numbers == list(range(1, -(-count // 5) + 1))
    assert [item["number"] for item in pager["pages"] if item and item["current"]] == [2]
    assert pager["previous"] == "?kind=policy" and pager["next"] == "?kind=policy&page=3"
    first = sales_client.get(URL)
    assert first.context["pager"]["previous"] is None
    assert [item["number"] for item in first.context["pager"]["pages"] if item][-1] == pages
    last = sales_client.get(URL, {"page": str(pages)})
    assert last.context["pager"]["next"] is None
    html = sales_client.get(URL, {"kind": "policy", "page": "2"}).content.decode()
    assert 'aria-current="page">2<' in html and 'rel="prev"' in html and 'rel="next"' in html


@pytest.mark.embedded
def test_deep_pages_and_keyset_pages_go_on_by_keyset(sales_client, imported_sample, monkeypatch):
    monkeypatch.setattr(selectors, "PER_PAGE", 5)
    monkeypatch.setattr(selectors, "MAX_PAGE", 2)
    response = sales_client.get(URL, {"page": "2"})
    pager = response.context["pager"]
    assert [item["number"] for item in pager["pages"] if item] == [1, 2]
    assert pager["next"] == f"?after={response.context['results'].next_after}"  # beyond the numbered pages
    keyset = sales_client.get(URL + pager["next"])
    assert keyset.context["pager"]["first"] == "?" and keyset.context["pager"]["pages"] == []
    assert keyset.context["results"].entries


@pytest.mark.embedded
def test_an_empty_list_offers_to_drop_the_narrowest_filter(sales_client, imported_sample):
    response = sales_client.get(URL, {"region": "320000", "kind": "briefing", "theme": "cross-province"})
    assert response.context["results"].entries == []
    suggestions = response.context["suggestions"]
    assert suggestions, "dropping a value shows something"
    counts = [chip["count"] for chip in suggestions]
    assert counts == sorted(counts, reverse=True)
    for chip in suggestions:
        assert sales_client.get(f"{URL}?{chip['query']}").context["count"] == chip["count"]
    from policies.models import Kind

    assert str(Kind.BRIEFING.label) in [chip["label"] for chip in suggestions]  # without it, 靖江's practice
    html = response.content.decode()
    assert 'id="empty-state"' in html and "去掉「" in html


@pytest.mark.embedded
def test_the_issue_selector_lists_the_issues_and_marks_the_chosen_one(sales_client, imported_sample):
    html = sales_client.get(URL, {"issue": imported_sample.key}).content.decode()
    assert f'<option value="{imported_sample.pk}" selected>{imported_sample}</option>' in html
    assert '<select name="issue" id="id_issue">' in html


@pytest.mark.embedded
def test_the_filter_form_marks_what_is_chosen(sales_client, imported_sample):
    html = sales_client.get(
        URL, {"region": "320000", "theme": "cross-province", "level": "provincial"}
    ).content.decode()
    assert 'name="region" value="320000" checked' in html and 'name="region" value="330000">' in html
    assert 'name="theme" value="cross-province" checked' in html
    assert 'name="level" value="provincial" checked' in html and 'name="level" value="national">' in html


@pytest.mark.embedded
def test_level_kind_year_and_issuer_facets_count_what_their_links_show(sales_client, imported_sample):
    response = sales_client.get("/library/facets/", {"region": "320000"})
    for name in ("level_facets", "kind_facets", "year_facets", "issuer_facets"):
        items = response.context[name]
        assert items, name
        for item in items:
            page = sales_client.get(item["url"])
            if name == "issuer_facets":  # the issuer filter matches the name within longer names too
                assert page.context["count"] >= item["count"], item["url"]
            else:
                assert page.context["count"] == item["count"], item["url"]
    years = {item["label"]: item["count"] for item in response.context["year_facets"]}
    assert years == {"2022": 4}
    assert len(response.context["issuer_facets"]) <= 20
    chosen = sales_client.get("/library/facets/", {"date_from": "2022-01-01", "date_to": "2022-12-31"})
    assert [item["label"] for item in chosen.context["year_facets"] if item["chosen"]] == ["2022"]


@pytest.mark.embedded
def test_an_entry_link_carries_the_list_and_the_entry_page_links_back_to_it(sales_client, imported_sample):
    params = {"region": "320000", "theme": "cross-province"}
    html = sales_client.get(URL, params).content.decode()
    entry = Entry.objects.get(title="靖江政务服务“跨省通办”向基层延伸")
    link = f'href="/library/entry/{entry.pk}/?region=320000&amp;theme=cross-province"'
    assert link in html
    page = sales_client.get(f"/library/entry/{entry.pk}/", {**params, "page": "2"})
    assert page.context["back_query"] == "region=320000&theme=cross-province&page=2"
    assert 'href="/library/?region=320000&amp;theme=cross-province&amp;page=2"' in page.content.decode()
