"""A sales user in Chromium: sign in, filter 江苏 + 跨省通办, find 靖江's practice from the sample issue,
export .xlsx holding exactly the rows on screen, and read 江苏's count on the map."""

import io
import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from issues.services import issue_import_newsletter
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/library.png"


def test_sales_filter_find_export_and_map(live_server, page, catalogue_data, sample_bytes, js_errors):
    issue_import_newsletter(data=sample_bytes, source_name="dgd-2022-08-zhengwu.txt")
    sales = UserFactory(role="sales")

    page.goto(f"{live_server.url}/library/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/library/"))
    page.fill("#id_username", sales.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/library/$"))

    page.check("input[name=region][value='320000']")
    page.check("input[name=theme][value='cross-province']")
    page.click("#apply-filter")
    expect(page).to_have_url(re.compile(r"region=320000.*theme=cross-province"))

    results = page.locator("#results li.entry")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("靖江政务服务“跨省通办”向基层延伸")
    on_screen = [title.strip() for title in page.locator("#results .entry-title").all_inner_texts()]

    with page.expect_download() as info:
        page.click("#export-xlsx")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(download.path().read_bytes()), read_only=True).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["标题", "类型", "级别", "地区", "主题", "发文机关", "日期", "原文链接", "期次", "摘要"]
    assert [row[0] for row in rows[1:]] == on_screen == ["靖江政务服务“跨省通办”向基层延伸"]
    assert rows[1][3] == "江苏"

    jiangsu = page.locator("#library-map g.tile[data-code='320000']")
    expect(jiangsu.locator("text.count")).to_have_text("1")
    expect(page.locator("#province-facets")).to_contain_text("江苏")

    jiangsu.locator("a").click()
    expect(page).to_have_url(re.compile(r"/library/province/320000/\?region=320000&theme=cross-province"))
    expect(page.locator("#by-theme")).to_contain_text("跨省通办")
    expect(page.locator("#library-map g.tile[data-code='320000'] text.count")).to_have_text("1")
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert js_errors == []
