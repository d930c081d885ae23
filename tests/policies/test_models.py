import pytest

from policies.models import Entry, Kind, Policy, Region, Theme
from policies.vocabulary import PROVINCES
from practices.models import Practice
from tests.factories import EntryFactory

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]

REQUIRED_THEMES = {
    "business-environment": "营商环境",
    "e-licence": "电子证照",
    "cross-province": "跨省通办",
    "one-network": "一网通办",
    "one-matter": "一件事/一窗受理",
    "mobile": "掌上办/移动政务",
    "digital-government": "数字政府建设",
    "approval-reform": "审批改革/放管服",
    "data-sharing": "数据共享",
    "smart-service": "智能服务",
    "grassroots": "基层治理",
    "social-assistance": "社会救助",
    "regulation": "监管执法",
}


def test_all_34_provincial_divisions_are_loaded_with_their_codes():
    provinces = Region.objects.filter(parent=None)
    assert provinces.count() == 34
    assert Region.objects.get(code=110000).name == "北京市"
    assert Region.objects.get(code=150000).short_name == "内蒙古"
    assert Region.objects.get(code=650000).name == "新疆维吾尔自治区"
    assert {r.code for r in provinces} == {code for code, _, _ in PROVINCES}
    assert all(r.code % 10000 == 0 and r.kind == "province" for r in provinces)


def test_cities_hang_below_their_province():
    jiangsu = Region.objects.get(code=320000)
    kunshan = Region.objects.get(code=320583)
    assert kunshan.name == "昆山市" and kunshan.parent.code == 320500 and kunshan.parent.parent == jiangsu
    assert kunshan.province_code == 320000


def test_the_required_themes_are_loaded_with_keyword_rules():
    themes = {t.slug: t for t in Theme.objects.all()}
    for slug, name in REQUIRED_THEMES.items():
        assert themes[slug].name == name
        assert themes[slug].keyword_list, slug
    assert Theme.objects.get(slug="cross-province").matches("推进政务服务“跨省通办”")
    assert not Theme.objects.get(slug="cross-province").matches("推进政务服务“一网通办”")


def test_suggested_themes_follow_the_keyword_rules():
    suggested = {t.slug for t in Theme.objects.all().suggested_for("全面推进电子证照在政务服务中跨省通办")}
    assert {"e-licence", "cross-province"} <= suggested
    assert "social-assistance" not in suggested


def test_kind_proxies_see_only_their_own_rows_and_pin_their_kind():
    policy = Policy.objects.create(title="关于深化数字政府建设的实施意见", published_on="2022-08-01")
    practice = Practice.objects.create(title="靖江政务服务跨省通办向基层延伸", published_on="2022-08-01")
    assert policy.kind == Kind.POLICY and practice.kind == Kind.PRACTICE
    assert list(Policy.objects.all()) == [policy]
    assert list(Practice.objects.values_list("pk", flat=True)) == [practice.pk]
    assert Entry.objects.count() == 2


def test_edits_through_a_proxy_keep_history_with_regions_and_themes():
    policy = Policy.objects.create(title="关于深化数字政府建设的实施意见", published_on="2022-08-01")
    policy.regions.set([330000])
    policy.title = "关于深化数字政府建设的实施意见（修订）"
    policy.save()
    history = list(Entry.objects.get(pk=policy.pk).history.all())
    # created, then regions set (an m2m change is a version of its own), then retitled
    assert [h.history_type for h in history] == ["~", "~", "+"]
    assert history[0].title.endswith("（修订）")
    assert history[1].title == "关于深化数字政府建设的实施意见"
    assert [r.region_id for r in history[1].regions.all()] == [330000]
    assert list(history[2].regions.all()) == []
    pk = policy.pk
    policy.delete()
    assert Entry.history.filter(id=pk, history_type="-").count() == 1


def test_display_title_quotes_a_policy_document():
    entry = EntryFactory(issuer="浙江省人民政府", title="关于深化数字政府建设的实施意见")
    assert entry.display_title == "浙江省人民政府《关于深化数字政府建设的实施意见》"
    assert str(EntryFactory(kind=Kind.PRACTICE, issuer="", title="昆山“昆如意”")) == "昆山“昆如意”"
