"""Bad input never gives a 500: the page names what it left out, or answers 400."""

import urllib.parse

import pytest
from django.urls import reverse
from django.utils.html import escape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

URL = "/library/"

BAD = [
    {"region": "999999"},
    {"region": "abc"},
    {"region": "99999999999999999999999"},
    {"theme": "no-such-theme"},
    {"level": "galactic"},
    {"kind": "poem"},
    {"date_from": "2022-13-45"},
    {"date_to": "yesterday"},
    {"date_from": "2022-12-31", "date_to": "2022-01-01"},
    {"page": "-1"},
    {"page": "99999999"},
    {"page": "abc"},
    {"page": "9" * 400},
    {"after": "not-a-cursor"},
    {"after": "9999-99-99.1"},
    {"after": "2022-08-01.99999999999999999999999"},
    {"q": "证" * 1000},
    {"issue": "2022-99"},
    {"issue": "99999999999999999999"},
    {"issuer": "x" * 500},
    {"sort": "sideways"},
    {"sort": "relevance"},
    # Unknown names: ignored silently they would export the whole catalogue.
    {"regoin": "110000"},
    {"themes": "x"},
    {"Region": "110000"},
    {"region[]": "110000"},
    {"q ": "证照"},
]


@pytest.mark.embedded
def test_bad_parameters_show_the_page_with_a_message(sales_client, imported_sample):
    for params in BAD:  # one catalogue for them all: importing it is what costs
        response = sales_client.get(URL, params)
        assert response.status_code == 200, params
        assert response.context["errors"], f"the page says what it left out: {params}"
        for url in ("/library/facets/", "/library/map.svg"):
            assert sales_client.get(url, params).status_code == 200, (url, params)


@pytest.mark.embedded
@pytest.mark.parametrize("params", BAD, ids=[next(iter(p)) + str(i) for i, p in enumerate(BAD)])
def test_an_export_of_a_bad_filter_is_refused_with_the_pages_message(sales_client, db, params):
    """Leaving the bad parameter out, as the page does, would export more than was asked for (the whole
    catalogue when every parameter is bad)."""
    page = sales_client.get(URL, params)
    for url in ("/library/export.csv", "/library/export.xlsx"):
        response = sales_client.get(url, params)
        assert response.status_code == 400
        assert "Content-Disposition" not in response
        assert response.context["errors"] == page.context["errors"]
        body = response.content.decode()
        assert all(escape(message) in body for message in page.context["errors"])


@pytest.mark.embedded
def test_an_export_of_a_valid_filter_is_not_refused(sales_client, imported_sample):
    response = sales_client.get("/library/export.csv", {"region": "320000", "date_from": "2022-01-01"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")


ODD = [
    {"q": "'; DROP TABLE policies_entry; --"},
    {"q": '"证照" & | ! ( ) : * <->'},
    {"q": "Ｅ证照ｘ😀\u200b"},
    {"q": "!!!"},
    {"region": ["320000", "320000"], "theme": ["e-licence", "cross-province"]},
]


@pytest.mark.embedded
def test_odd_but_valid_keywords_are_searched_safely(sales_client, imported_sample):
    for params in ODD:
        response = sales_client.get(URL, params)
        assert response.status_code == 200, params
        for url in ("/library/facets/", "/library/map.svg"):
            assert sales_client.get(url, params).status_code == 200, (url, params)
        # A keyword with no words to search for ("!!!") is named on the page, and so refuses an export.
        expected = 400 if response.context["errors"] else 200
        assert sales_client.get("/library/export.xlsx", params).status_code == expected, params


@pytest.mark.embedded
def test_sql_looking_text_is_only_text(sales_client, imported_sample):
    from policies.models import Entry

    before = Entry.objects.count()
    response = sales_client.get(URL, {"q": "证照' OR '1'='1"})
    assert response.status_code == 200
    assert response.context["results"].entries == []
    assert Entry.objects.count() == before


@pytest.mark.embedded
def test_page_numbers_beyond_the_list_and_the_limit(sales_client, imported_sample):
    response = sales_client.get(URL, {"page": "99999999"})
    assert any("500" in message for message in response.context["errors"])
    assert len(response.context["results"].entries) > 0  # the first page instead
    response = sales_client.get(URL, {"page": "400"})
    assert response.context["results"].entries == []
    assert response.context["errors"]


@pytest.mark.embedded
def test_a_saved_filter_without_a_name_is_refused_with_400(sales_client, db):
    response = sales_client.post("/library/saved/", {"name": "  ", "region": "320000"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "data",
    [
        {"name": "a\x00b", "region": "320000"},
        {"name": "\x00"},
        {"name": "ok", "q": "证照\x00"},
        {"name": "ok", "region\x00": "320000"},
    ],
)
def test_a_nul_in_a_saved_filter_is_refused_with_400_and_nothing_saved(sales_client, data):
    from library.models import SavedFilter

    response = sales_client.post("/library/saved/", data)
    assert response.status_code == 400
    assert not SavedFilter.objects.exists()


def test_the_saved_filter_form_refuses_a_nul_and_a_long_name():
    from library.forms import SavedFilterForm

    assert not SavedFilterForm({"name": "a\x00b"}).is_valid()
    assert not SavedFilterForm({"name": "名" * 101}).is_valid()
    assert SavedFilterForm({"name": " 江苏 "}).is_valid()


# -- a NUL anywhere in a request: 400, never a 500 from PostgreSQL ------------------------------------

NUL_GETS = [
    ("admin:policies_policy_changelist", {"status": "\x00"}),
    ("admin:policies_policy_changelist", {"status__exact": "\x00"}),
    ("admin:policies_policy_changelist", {"q": "证照\x00"}),
    ("admin:policies_entry_changelist", {"title": "\x00"}),
    ("admin:policies_region_changelist", {"kind__exact": "\x00"}),
    ("admin:issues_issue_changelist", {"status__exact": "\x00"}),
    ("admin:subscribers_subscriber_changelist", {"status__exact": "\x00"}),
    ("admin:subscribers_subscriber_changelist", {"q": "\x00@example.org"}),
    (
        "admin:autocomplete",
        {"term": "\x00", "app_label": "policies", "model_name": "policy", "field_name": "regions"},
    ),
    ("admin:autocomplete", {"term": "a\x00", "app_label": "policies", "model_name": "policy", "field_name": "themes"}),
    ("library:index", {"issuer": "\x00"}),
    ("library:index", {"q": "a\x00b"}),
    ("library:export_csv", {"q": "\x00"}),
]


@pytest.mark.parametrize(("name", "params"), NUL_GETS, ids=[f"{n}-{next(iter(p))}" for n, p in NUL_GETS])
def test_a_nul_in_a_query_parameter_is_a_400(client, chief_editor, name, params):
    client.force_login(chief_editor)
    client.raise_request_exception = False
    response = client.get(reverse(name), params)
    assert response.status_code == 400
    assert "NUL" in response.content.decode()


def test_a_nul_in_a_posted_field_or_the_path_is_a_400(client, chief_editor):
    from policies.models import Theme

    client.force_login(chief_editor)
    client.raise_request_exception = False
    themes = Theme.objects.count()
    response = client.post(reverse("admin:policies_theme_add"), {"name": "区块链\x00", "slug": "blockchain"})
    assert response.status_code == 400
    assert Theme.objects.count() == themes
    assert client.get("/library/entry/1%00/").status_code == 400
    assert client.get(reverse("admin:policies_policy_changelist") + "?%00=1").status_code == 400


@pytest.mark.embedded
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "region",
                    "theme",
                    "level",
                    "kind",
                    "date_from",
                    "date_to",
                    "issuer",
                    "issue",
                    "q",
                    "sort",
                    "page",
                    "after",
                    "x",
                ]
            ),
            st.text(max_size=40),
        ),
        max_size=6,
    )
)
def test_arbitrary_query_strings_never_give_a_server_error(sales_client, imported_sample, pairs):
    query = urllib.parse.urlencode(pairs)
    for url in (URL, "/library/facets/", "/library/export.csv"):
        response = sales_client.get(f"{url}?{query}")
        assert response.status_code < 500, (url, query)


@pytest.mark.embedded
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=60))
def test_raw_query_bytes_never_give_a_server_error(sales_client, imported_sample, raw):
    query = urllib.parse.quote_from_bytes(raw, safe="=&")
    assert sales_client.get(f"{URL}?{query}").status_code < 500


@pytest.mark.embedded
def test_an_unknown_parameter_is_named_on_the_page(sales_client, db):
    response = sales_client.get(URL, {"regoin": "110000", "region": "320000"})
    assert any("regoin" in message for message in response.context["errors"])
    assert sales_client.get("/library/export.csv", {"regoin": "110000"}).status_code == 400


@pytest.mark.embedded
@pytest.mark.parametrize("blank", ["", "   ", "\u3000 \t"])
def test_a_blank_keyword_is_no_keyword_everywhere(sales_client, imported_sample, blank):
    plain = sales_client.get(URL)
    response = sales_client.get(URL, {"q": blank, "region": "320000"})
    assert response.status_code == 200 and not response.context["errors"]
    assert response.context["criteria"].keyword == ""
    assert "q=" not in response.context["query"]  # the export, facet and next links carry no keyword
    export = sales_client.get("/library/export.csv", {"q": blank})
    assert export.status_code == 200
    everything = sales_client.get("/library/export.csv")
    assert b"".join(export.streaming_content) == b"".join(everything.streaming_content)
    assert plain.context["count"] == sales_client.get(URL, {"q": blank}).context["count"]
