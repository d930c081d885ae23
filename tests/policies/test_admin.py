"""The curation admin, driven through the test client as a signed-in researcher."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from policies.models import Entry, Kind, Level, Policy, Status, Theme
from tests.factories import EntryFactory, IssueEntryFactory, PracticeEntryFactory, UserFactory

pytestmark = [pytest.mark.django_db]

CHANGELISTS = [
    "policies_policy",
    "practices_practice",
    "policies_analysis",
    "policies_briefing",
    "policies_entry",
    "policies_region",
    "policies_theme",
    "policies_partner",
    "issues_issue",
]


def changelist(name="policies_policy"):
    return reverse(f"admin:{name}_changelist")


def listed(response):
    return {entry.pk for entry in response.context["cl"].result_list}


def offered_actions(response):
    return dict(response.context["action_form"].fields["action"].choices)


@pytest.fixture
def signed_in(client, researcher):
    client.force_login(researcher)
    return client


@pytest.mark.parametrize("name", CHANGELISTS)
def test_every_changelist_loads_for_a_researcher(signed_in, name):
    EntryFactory(regions=[320000], themes=["one-network"])
    PracticeEntryFactory(regions=[410000])
    EntryFactory(kind=Kind.ANALYSIS, title="以数字化改革推动政务服务提质增效", issuer="")
    EntryFactory(kind=Kind.BRIEFING, title="国务院政策例行吹风会", issuer="国务院新闻办公室")
    IssueEntryFactory()
    response = signed_in.get(changelist(name))
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


def test_each_kind_lists_only_its_own_entries(signed_in):
    policy = EntryFactory()
    practice = PracticeEntryFactory()
    assert listed(signed_in.get(changelist("policies_policy"))) == {policy.pk}
    assert listed(signed_in.get(changelist("practices_practice"))) == {practice.pk}
    assert listed(signed_in.get(changelist("policies_entry"))) == {policy.pk, practice.pk}


def test_the_policy_list_shows_region_and_theme_tags(signed_in):
    EntryFactory(issuer="四川省人民政府办公厅", regions=[510000, 500000], themes=["cross-province"])
    content = signed_in.get(changelist()).content.decode()
    assert "四川省人民政府办公厅《" in content
    assert "重庆、四川" in content  # regions in code order, by short name
    assert "跨省通办" in content


# -- filters and search --------------------------------------------------------------------------


@pytest.fixture
def catalogue():
    return {
        "sichuan": EntryFactory(
            title="川渝通办事项清单", regions=[510000, 500000], themes=["cross-province"], status=Status.DRAFT
        ),
        "beijing": EntryFactory(
            title="北京市优化营商环境条例", regions=[110000], themes=["business-environment"], level=Level.PROVINCIAL
        ),
        "national": EntryFactory(
            title="关于加快推进电子证照扩大应用领域的意见",
            issuer="国务院办公厅",
            level=Level.NATIONAL,
            themes=["e-licence"],
        ),
    }


def test_the_region_filter_offers_only_regions_in_use_and_narrows_the_list(signed_in, catalogue):
    response = signed_in.get(changelist())
    region_filter = next(f for f in response.context["cl"].filter_specs if f.field_path == "regions")
    offered = {str(choice["display"]) for choice in region_filter.choices(response.context["cl"])}
    assert offered == {"全部", "四川省", "重庆市", "北京市", "-"}  # "-": entries with no region
    assert "?regions__code__exact=510000" in response.content.decode()

    assert listed(signed_in.get(changelist(), {"regions__code__exact": 510000})) == {catalogue["sichuan"].pk}
    assert listed(signed_in.get(changelist(), {"regions__code__exact": 110000})) == {catalogue["beijing"].pk}


def test_the_list_filters_by_theme_level_and_status(signed_in, catalogue):
    theme = Theme.objects.get(slug="business-environment")
    assert listed(signed_in.get(changelist(), {"themes__id__exact": theme.pk})) == {catalogue["beijing"].pk}
    assert listed(signed_in.get(changelist(), {"level__exact": Level.NATIONAL})) == {catalogue["national"].pk}
    assert listed(signed_in.get(changelist(), {"status__exact": Status.DRAFT})) == {catalogue["sichuan"].pk}
    both = {"level__exact": Level.PROVINCIAL, "status__exact": Status.READY}
    assert listed(signed_in.get(changelist(), both)) == {catalogue["beijing"].pk}


def test_search_looks_at_title_issuer_and_summary(signed_in, catalogue):
    assert listed(signed_in.get(changelist(), {"q": "营商环境"})) == {catalogue["beijing"].pk}
    assert listed(signed_in.get(changelist(), {"q": "国务院办公厅"})) == {catalogue["national"].pk}
    assert len(listed(signed_in.get(changelist(), {"q": "高频政务服务事项"}))) == 3  # the factory's summary
    assert listed(signed_in.get(changelist(), {"q": "不存在的文件"})) == set()


def test_a_region_filter_and_a_search_combine_without_duplicates(signed_in, catalogue):
    response = signed_in.get(changelist(), {"regions__code__exact": 510000, "q": "通办"})
    assert [e.pk for e in response.context["cl"].result_list] == [catalogue["sichuan"].pk]


@pytest.mark.parametrize("rows", [5, 40])
@pytest.mark.parametrize(
    ("name", "factory"),
    [("policies_policy", EntryFactory), ("practices_practice", PracticeEntryFactory), ("policies_entry", EntryFactory)],
)
def test_a_list_takes_the_same_number_of_queries_however_many_rows(
    signed_in, name, factory, rows, django_assert_num_queries, signed_in_queries
):
    for n in range(rows):
        factory(regions=[510000, 500000][: n % 2 + 1], themes=["one-network", "cross-province"][: n % 3])
    signed_in.get(changelist(name))  # warm the content-type and session caches
    # ``signed_in_queries``, region and theme filter choices, count and full count, the page, its prefetched
    # regions and themes, the date hierarchy (2): the same for 5 rows as for 40.
    with django_assert_num_queries(signed_in_queries + 9):
        response = signed_in.get(changelist(name))
    assert response.context["cl"].result_count == rows


# -- bulk actions --------------------------------------------------------------------------------


def test_a_researcher_marks_entries_ready_with_the_bulk_action(signed_in):
    drafts = [EntryFactory(status=Status.DRAFT) for _ in range(3)]
    other = EntryFactory(status=Status.DRAFT)
    assert "mark_ready" in offered_actions(signed_in.get(changelist()))
    response = signed_in.post(
        changelist(), {"action": "mark_ready", "_selected_action": [e.pk for e in drafts], "index": 0}, follow=True
    )
    assert response.status_code == 200
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["已将 3 个条目标记为就绪。"]
    assert set(Entry.objects.filter(status=Status.READY).values_list("pk", flat=True)) == {e.pk for e in drafts}
    assert Entry.objects.get(pk=other.pk).status == Status.DRAFT
    assert Entry.history.filter(id=drafts[0].pk, history_change_reason="marked ready").count() == 1


@pytest.fixture
def staff_without_mark_ready(db):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="policies", codename__in=["view_policy", "change_policy"])
    )
    return user


def test_the_mark_ready_action_is_not_offered_without_the_permission(client, staff_without_mark_ready):
    draft = EntryFactory(status=Status.DRAFT)
    client.force_login(staff_without_mark_ready)
    response = client.get(changelist())
    assert response.status_code == 200
    assert "mark_ready" not in offered_actions(response)
    assert "apply_suggested_themes" in offered_actions(response)
    # Posting it anyway does nothing.
    client.post(changelist(), {"action": "mark_ready", "_selected_action": [draft.pk], "index": 0})
    assert Entry.objects.get(pk=draft.pk).status == Status.DRAFT


def test_the_bulk_action_adds_suggested_themes(signed_in):
    entry = EntryFactory(title="全面推行“一网通办”", summary="")
    signed_in.post(changelist(), {"action": "apply_suggested_themes", "_selected_action": [entry.pk], "index": 0})
    assert list(entry.themes.values_list("slug", flat=True)) == ["one-network"]


# -- adding and history --------------------------------------------------------------------------


def add_form(**overrides):
    return {
        "title": "关于推进川渝通办的实施意见",
        "issuer": "四川省人民政府办公厅",
        "action": "印发",
        "doc_number": "川办发〔2022〕30号",
        "level": Level.PROVINCIAL,
        "status": Status.DRAFT,
        "regions": [510000, 500000],
        "issued_on": "2022-08-02",
        "published_on": "2022-08-05",
        "source_url": "https://www.sc.gov.cn/10462/zfwjts/2022/8/5/example.shtml",
        "summary": "推动**川渝通办**事项扩面增效，推广电子证照互通互认。",
        **overrides,
    }


def test_adding_a_policy_without_themes_applies_the_suggested_ones(signed_in):
    assert signed_in.get(reverse("admin:policies_policy_add")).status_code == 200
    response = signed_in.post(reverse("admin:policies_policy_add"), add_form(), follow=True)
    assert response.status_code == 200
    policy = Policy.objects.get()
    assert policy.kind == Kind.POLICY
    assert set(policy.regions.values_list("code", flat=True)) == {510000, 500000}
    assert {"cross-province", "e-licence", "data-sharing"} <= set(policy.themes.values_list("slug", flat=True))
    assert policy.published_on == datetime.date(2022, 8, 5)
    assert any("跨省通办" in str(m) for m in get_messages(response.wsgi_request))
    assert policy.history.count() >= 1


def test_adding_a_policy_with_a_theme_keeps_only_that_theme(signed_in):
    theme = Theme.objects.get(slug="regulation")
    signed_in.post(reverse("admin:policies_policy_add"), add_form(themes=[theme.pk]))
    assert list(Policy.objects.get().themes.all()) == [theme]


def test_the_change_page_shows_the_suggested_themes(signed_in):
    entry = EntryFactory(title="全面推行“一网通办”", summary="")
    response = signed_in.get(reverse("admin:policies_policy_change", args=[entry.pk]))
    assert response.status_code == 200
    assert "一网通办" in response.content.decode()


def test_the_history_of_an_entry_loads_with_each_version(signed_in):
    entry = EntryFactory(status=Status.DRAFT, regions=[510000])
    signed_in.post(changelist(), {"action": "mark_ready", "_selected_action": [entry.pk], "index": 0})
    response = signed_in.get(reverse("admin:policies_policy_history", args=[entry.pk]))
    assert response.status_code == 200
    versions = list(response.context["page_obj"].object_list)
    assert len(versions) >= 2
    assert versions[0].status == Status.READY
    version_url = reverse("admin:policies_policy_simple_history", args=[entry.pk, versions[-1].history_id])
    assert signed_in.get(version_url).status_code == 200


def test_the_history_of_a_practice_loads(signed_in):
    practice = PracticeEntryFactory()
    response = signed_in.get(reverse("admin:practices_practice_history", args=[practice.pk]))
    assert response.status_code == 200
    assert len(response.context["page_obj"].object_list) == 1


# -- autocompletes -------------------------------------------------------------------------------


def autocomplete(client, field_name, term, model_name="policy", app_label="policies"):
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": term},
    )
    assert response.status_code == 200, response.content
    return {item["text"] for item in response.json()["results"]}


def test_the_region_and_theme_autocompletes_find_by_short_name_and_keyword(signed_in):
    assert autocomplete(signed_in, "regions", "四川") == {"四川省"}
    assert autocomplete(signed_in, "regions", "510000") == {"四川省"}
    assert "跨省通办" in autocomplete(signed_in, "themes", "跨省")
    assert autocomplete(signed_in, "partners", "新点", model_name="practice", app_label="practices") == {"新点"}


def test_an_analysis_interprets_only_policies(signed_in):
    EntryFactory(title="关于深化数字政府建设的实施意见", issuer="浙江省人民政府")
    PracticeEntryFactory(title="数字政府建设的基层实践")
    found = autocomplete(signed_in, "interprets", "数字政府", model_name="analysis")
    assert found == {"浙江省人民政府《关于深化数字政府建设的实施意见》"}
