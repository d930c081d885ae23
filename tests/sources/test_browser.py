"""A researcher in Chromium: from a new candidate in the inbox to a draft entry pre-filled with its tags; the
reprint of a policy already in the catalogue is shown as its duplicate."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from policies.models import Entry, Status
from sources.models import Candidate, CandidateStatus, Source
from sources.services import sources_poll
from tests.factories import PASSWORD, EntryFactory, UserFactory
from tests.sources.conftest import grant_inbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_TITLE = "浙江省人民政府办公厅关于推进政务服务一网通办的实施意见"


@pytest.fixture
def polled(site):
    """A provincial feed with a new policy and the reprint of one the catalogue holds already."""
    site.rss(
        "/rss.xml",
        [
            (NEW_TITLE, site.url("/art/1.html"), "2022-08-03"),
            ("国务院关于加强数字政府建设的指导意见", site.url("/art/2.html"), "2022-06-23"),
        ],
    )
    site.detail(
        "/art/1.html",
        title=NEW_TITLE,
        doc_number="浙政办发〔2022〕41号",
        paragraphs=[
            "各市、县（市、区）人民政府，省政府直属各单位：",
            "为深化一网通办改革，推动高频事项全程网办，经省政府同意，现提出如下意见。",
        ],
        issuer="浙江省人民政府办公厅",
        date="2022年8月1日",
        encoding="gbk",
    )
    site.detail(
        "/art/2.html",
        title="国务院关于加强数字政府建设的指导意见",
        doc_number="国发〔2022〕14号",
        paragraphs=["加强数字政府建设是适应新一轮科技革命和产业变革趋势的必然要求。"],
    )
    entry = EntryFactory(
        title="关于加强数字政府建设的指导意见", issuer="国务院", doc_number="国发〔2022〕14号", level="national"
    )
    Source.objects.create(
        name="浙江省人民政府", url=site.url("/rss.xml"), kind="feed", level="provincial", region_id=330000
    )
    sources_poll()
    return entry


def test_a_researcher_takes_a_candidate_into_a_prefilled_draft(live_server, page, polled, js_errors):
    researcher = grant_inbox(UserFactory(role="researcher"))
    page.goto(f"{live_server.url}/admin/login/?next=/admin/sources/candidate/")
    page.fill("#id_username", researcher.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")

    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(NEW_TITLE)  # newest first
    duplicate_row = rows.nth(1)
    expect(duplicate_row.locator(".candidate-duplicate")).to_be_visible()
    expect(duplicate_row.locator(f"a[href='{polled.get_admin_url()}']")).to_be_visible()

    duplicate = Candidate.objects.get(status=CandidateStatus.DUPLICATE)
    duplicate_row.get_by_role("link", name=duplicate.title).click()
    expect(page.locator("#duplicate-note")).to_be_visible()
    expect(page.locator("#duplicate-note a")).to_have_attribute("href", polled.get_admin_url())

    page.goto(f"{live_server.url}/admin/sources/candidate/")
    page.get_by_role("link", name=NEW_TITLE).click()
    expect(page.locator(".field-doc_number")).to_contain_text("浙政办发〔2022〕41号")
    page.locator("#take").focus()
    page.keyboard.press("Enter")  # keyboard-friendly: the button is reachable and works without the mouse

    expect(page).to_have_url(re.compile(r"/admin/policies/policy/\d+/change/$"))
    entry = Entry.objects.exclude(pk=polled.pk).get()
    assert entry.status == Status.DRAFT
    expect(page.locator("#id_title")).to_have_value("关于推进政务服务一网通办的实施意见")
    expect(page.locator("#id_issuer")).to_have_value("浙江省人民政府办公厅")
    expect(page.locator("#id_doc_number")).to_have_value("浙政办发〔2022〕41号")
    expect(page.locator("#id_level")).to_have_value("provincial")
    expect(page.locator("#id_published_on")).to_have_value("2022/08/03")
    expect(page.locator("#id_issued_on")).to_have_value("2022/08/01")
    expect(page.locator("#id_source_url")).to_have_value(entry.source_url)
    expect(page.locator("#id_summary")).to_have_value(re.compile("深化一网通办改革"))
    expect(page.locator("#id_regions option:checked")).to_have_text(["浙江省"])
    expect(page.locator("#id_themes option:checked")).to_contain_text(["一网通办"])
    assert entry.published_on == datetime.date(2022, 8, 3)
    page.screenshot(path="/tmp/sources-take.png", full_page=True)

    page.goto(f"{live_server.url}/admin/sources/candidate/?status=taken")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator(f"#result_list a[href='{entry.get_admin_url()}']")).to_be_visible()
    assert js_errors == []
