"""A sales user in Chromium, at a desktop width (1366 px) and a phone's (390 px): sign in, filter 江苏 + 跨省通办
through the filter panel, see the filter as chips and drop one with its ×, find 靖江's practice from the sample
issue, open it and come back to the same list, export .xlsx holding exactly the rows on screen, read 江苏's count
on the tile map and follow it to the province page. No page is wider than the window. Screenshots of every
library page at both widths go to test-results/screenshots/library-<page>-<width>.png."""

import io
import re
import uuid
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from issues.services import issue_import_newsletter
from library import selectors
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
JINGJIANG = "靖江政务服务“跨省通办”向基层延伸"


def no_horizontal_scroll(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    assert width <= inner, f"{page.url}: {width} px wide in a {inner} px window"


def shoot(page, name, width):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"library-{name}-{width}.png"), full_page=True, timeout=60_000)


def sign_in(page, live_server):
    sales = UserFactory(role="sales")
    page.goto(f"{live_server.url}/library/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/library/"))
    page.fill("#id_username", sales.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/library/$"))


@pytest.mark.parametrize("width", [1366, 390])
def test_sales_filter_chips_entry_export_and_map(live_server, page, sample_bytes, js_errors, width, monkeypatch):
    # The live server's thread keeps the run's cache prefix, not this test's: a key of its own, so the choices
    # cached by the other width's test (whose themes the flush removed) are not read back.
    monkeypatch.setattr(selectors, "VOCABULARY_KEY", f"library:vocabulary:{uuid.uuid4().hex}")
    issue_import_newsletter(data=sample_bytes, source_name="dgd-2022-08-zhengwu.txt")
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server)
    expect(page.locator("#facets[data-loaded='1']")).to_have_count(1)
    no_horizontal_scroll(page)
    shoot(page, "index", width)

    panel = page.locator("#filter-panel")
    if width < 768:  # closed on a phone: the chips say what is chosen; opened to choose
        expect(panel).not_to_have_attribute("open", "")
        no_horizontal_scroll(page)
        page.click("#filter-panel > summary")
    expect(panel).to_have_attribute("open", "")
    page.check("input[name=region][value='320000']")
    page.check("input[name=theme][value='cross-province']")
    page.check("input[name=kind][value='practice']")
    page.locator("#filter-panel button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"region=320000.*theme=cross-province.*kind=practice"))
    expect(page.locator("#chips .chip")).to_have_count(4)  # three values and 全部清除
    expect(page.locator("#facets[data-loaded='1']")).to_have_count(1)
    no_horizontal_scroll(page)
    shoot(page, "filtered", width)

    page.locator("#chips .chip", has_text="创新实践").click()  # its × drops that one value
    expect(page).to_have_url(re.compile(r"region=320000&theme=cross-province$"))
    expect(page.locator("#chips .chip")).to_have_count(3)
    results = page.locator("#results li.entry")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text(JINGJIANG)
    on_screen = [title.strip() for title in page.locator("#results .entry-title").all_inner_texts()]

    with page.expect_download() as info:
        page.click("#export-xlsx")
    download = info.value
    assert re.fullmatch(r"政策库-江苏-跨省通办-\d{4}-\d\d-\d\d\.xlsx", download.suggested_filename)
    sheet = load_workbook(io.BytesIO(download.path().read_bytes())).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert [row[0] for row in rows[1:]] == on_screen == [JINGJIANG]
    assert sheet.freeze_panes == "A2"

    page.locator("#results .entry-title").first.click()
    expect(page.locator("h1")).to_have_text(JINGJIANG)
    no_horizontal_scroll(page)
    shoot(page, "entry", width)
    page.click("#back-to-list")
    expect(page).to_have_url(re.compile(r"/library/\?region=320000&theme=cross-province$"))
    expect(page.locator("#chips .chip")).to_have_count(3)

    expect(page.locator("#facets[data-loaded='1']")).to_have_count(1)
    jiangsu = page.locator("#library-map g.tile[data-code='320000']")
    expect(jiangsu.locator("text.count")).to_have_text("1")
    expect(jiangsu.locator("a")).to_have_attribute("aria-label", "江苏：1 条")
    expect(page.locator("#province-facets")).to_contain_text("江苏")

    page.click("#province-link")
    expect(page).to_have_url(re.compile(r"/library/province/320000/\?region=320000&theme=cross-province"))
    expect(page.locator("#by-theme")).to_contain_text("跨省通办")
    expect(page.locator("#library-map g.tile[data-code='320000'] text.count")).to_have_text("1")
    no_horizontal_scroll(page)
    shoot(page, "province", width)

    page.goto(f"{live_server.url}/library/?region=320000&theme=cross-province&q=没有这个词组", timeout=30_000)
    expect(page.locator("#empty-state")).to_be_visible()
    expect(page.locator("#empty-state .suggestions a").first).to_contain_text("去掉")
    no_horizontal_scroll(page)
    shoot(page, "empty", width)

    page.goto(f"{live_server.url}/library/saved/", timeout=30_000)
    no_horizontal_scroll(page)
    shoot(page, "saved", width)
    assert js_errors == []
