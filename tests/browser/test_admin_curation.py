"""A researcher curates the catalogue in Chromium: sign in, add a policy with the autocompletes, mark it
ready, filter by region; import a spreadsheet through the two-step form."""

import re

import pytest
from playwright.sync_api import expect

from policies.models import Policy, Status, Theme
from tests.factories import PASSWORD, EntryFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/admin-curation.png"


@pytest.fixture
def researcher_page(live_server, page, js_errors):
    """A page signed in as a researcher through the admin's login form."""
    researcher = UserFactory(role="researcher")
    page.goto(f"{live_server.url}/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/"))
    page.fill("#id_username", researcher.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_contain_text("数字政府动态")
    expect(page.locator("#user-tools")).to_contain_text(researcher.username)
    return page


def choose(page, field, term, option):
    """Pick ``option`` in the select2 autocomplete of ``field`` after typing ``term``."""
    page.locator(f"#id_{field}").locator("xpath=following-sibling::span[contains(@class,'select2')]").click()
    page.locator(".select2-container--open .select2-search__field").fill(term)
    page.locator(".select2-results__option", has_text=option).click()


def test_a_researcher_adds_a_policy_marks_it_ready_and_finds_it_by_region(live_server, researcher_page, js_errors):
    page = researcher_page
    beijing = EntryFactory(title="北京市优化营商环境条例", issuer="北京市人大常委会", regions=[110000])

    page.goto(f"{live_server.url}/admin/policies/policy/add/")
    page.fill("#id_title", "关于进一步推进川渝通办的实施意见")
    page.fill("#id_issuer", "四川省人民政府办公厅、重庆市人民政府办公厅")
    page.select_option("#id_level", "provincial")
    page.fill("#id_published_on", "2022-08-05")
    choose(page, "regions", "四川", "四川省")
    choose(page, "regions", "重庆", "重庆市")
    choose(page, "themes", "跨省", "跨省通办")
    page.click("input[name=_save]")

    expect(page.locator("ul.messagelist")).to_contain_text("关于进一步推进川渝通办的实施意见")
    policy = Policy.objects.get(title="关于进一步推进川渝通办的实施意见")
    assert set(policy.regions.values_list("code", flat=True)) == {510000, 500000}
    assert list(policy.themes.values_list("slug", flat=True)) == ["cross-province"]
    assert policy.status == Status.DRAFT

    page.check(f"input[name=_selected_action][value='{policy.pk}']")
    page.select_option("select[name=action]", "mark_ready")
    page.click("button[name=index]")
    expect(page.locator("ul.messagelist")).to_contain_text("已将 1 个条目标记为就绪")
    policy.refresh_from_db()
    assert policy.status == Status.READY

    page.locator("#changelist-filter a", has_text="四川省").click()
    expect(page).to_have_url(re.compile(r"regions__code__exact=510000"))
    results = page.locator("#result_list tbody")
    expect(results.locator("tr")).to_have_count(1)
    expect(results).to_contain_text("关于进一步推进川渝通办的实施意见")
    expect(results).to_contain_text("已就绪")
    expect(results).not_to_contain_text(beijing.title)
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert js_errors == []


def test_a_researcher_imports_a_csv_through_the_admin(live_server, researcher_page, js_errors, tmp_path):
    page = researcher_page
    sheet = tmp_path / "政策.csv"
    sheet.write_text(
        "编号,标题,发文机关,文号,级别,地区,主题,日期,原文链接,摘要,状态\n"
        ",江苏省数字政府建设实施方案,江苏省人民政府,苏政发〔2022〕1号,省级,江苏省,数字政府建设,2022-08-09,,,\n"
        ",川渝通办事项清单,四川省人民政府办公厅,,省级,四川、500000,cross-province,2022-08-10,,,已就绪\n",
        encoding="utf-8",
    )

    page.goto(f"{live_server.url}/admin/policies/policy/import/")
    page.set_input_files("#id_import_file", str(sheet))
    page.click("input[type=submit]")
    # the import job's page: checked, nothing written yet, a button to import
    expect(page.locator("#import-job")).to_have_attribute("data-status", "ready")
    assert not Policy.objects.exists()
    page.click("#import-confirm")

    expect(page.locator("ul.messagelist")).to_contain_text("2")
    assert set(Policy.objects.values_list("title", flat=True)) == {"江苏省数字政府建设实施方案", "川渝通办事项清单"}
    assert set(Policy.objects.get(title="川渝通办事项清单").regions.values_list("code", flat=True)) == {510000, 500000}
    assert js_errors == []


def test_the_entry_form_reads_long_titles_previews_bold_and_applies_suggested_themes(
    live_server, researcher_page, js_errors
):
    """Issue 15's frictions: a long title fits its input, **bold** is previewed as it is typed, and 建议主题 is
    applied with one click (saving keeps it)."""
    page = researcher_page
    entry = EntryFactory(title="关于进一步推进政务服务跨省通办和电子证照互通互认的实施意见（试行）", summary="")
    theme = Theme.objects.order_by("position").first()
    entry.summary = f"文件涉及{theme.keyword_list[0]}。"
    entry.save()
    page.goto(f"{live_server.url}/admin/policies/policy/{entry.pk}/change/")

    title = page.locator("#id_title")
    assert title.evaluate("el => el.scrollWidth <= el.clientWidth")  # nothing cut off
    assert title.evaluate("el => el.getBoundingClientRect().width") > 600

    page.fill("#id_summary", "推进**高频事项**跨省通办。")
    preview = page.locator("[data-preview-of=id_summary]")
    expect(preview.locator("strong")).to_have_text("高频事项")
    expect(preview).to_have_text("推进高频事项跨省通办。")
    page.fill("#id_summary", f"文件涉及{theme.keyword_list[0]}。<script>x</script>**<b>粗</b>**")
    expect(preview.locator("strong")).to_have_text("<b>粗</b>")  # typed text stays text

    page.fill("#id_summary", entry.summary)
    apply = page.locator("button.dgd-apply-themes")
    expect(apply).to_have_text("采用建议主题")
    apply.click()
    expect(page.locator(".field-themes .select2-selection")).to_contain_text(theme.name)
    page.click("input[name=_save]")
    expect(page.locator("ul.messagelist")).to_be_visible()
    assert theme in entry.themes.all()
    assert js_errors == []
