"""Bad input never gives a 500: the page names what it left out, or answers 400."""

import urllib.parse

import pytest
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
    {"q": "a\x00b"},
    {"issue": "2022-99"},
    {"issue": "99999999999999999999"},
    {"issuer": "x" * 500},
    {"sort": "sideways"},
    {"sort": "relevance"},
]


@pytest.fixture
def sales_client(client, sales):
    client.force_login(sales)
    return client


@pytest.mark.embedded
@pytest.mark.parametrize("params", BAD, ids=[next(iter(p)) + str(i) for i, p in enumerate(BAD)])
def test_bad_parameters_show_the_page_with_a_message(sales_client, imported_sample, params):
    response = sales_client.get(URL, params)
    assert response.status_code == 200
    assert response.context["errors"], "the page says what it left out"
    for url in ("/library/facets/", "/library/export.csv", "/library/map.svg"):
        assert sales_client.get(url, params).status_code == 200


ODD = [
    {"q": "'; DROP TABLE policies_entry; --"},
    {"q": '"证照" & | ! ( ) : * <->'},
    {"q": "Ｅ证照ｘ😀\u200b"},
    {"q": "!!!"},
    {"region": ["320000", "320000"], "theme": ["e-licence", "cross-province"]},
]


@pytest.mark.embedded
@pytest.mark.parametrize("params", ODD)
def test_odd_but_valid_keywords_are_searched_safely(sales_client, imported_sample, params):
    response = sales_client.get(URL, params)
    assert response.status_code == 200
    for url in ("/library/facets/", "/library/export.xlsx", "/library/map.svg"):
        assert sales_client.get(url, params).status_code == 200


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
