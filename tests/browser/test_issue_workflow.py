"""The monthly issue in Chromium: a researcher assembles August 2022 and submits it; a chief editor
reorders an entry, approves it, sees how many subscribers will be mailed, publishes it and follows the digests
going out; an anonymous visitor reads it and downloads the PDF."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from issues.models import Issue, IssueStatus
from policies.models import Level
from subscribers import services
from subscribers.models import Scope
from tests.factories import PASSWORD, EntryFactory, PracticeEntryFactory, UserFactory
from tests.subscribers.helpers import make_subscriber
from tests.subscribers.smtp import SmtpServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AUGUST = datetime.date(2022, 8, 8)


@pytest.fixture
def smtp(settings):
    with SmtpServer() as server:
        server.use_in(settings)
        yield server.recorder


def sign_in(page, live_server, user):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text(user.username)


def sign_out(page, live_server):
    page.locator("#logout-form button").click()
    expect(page).to_have_url(re.compile(r"/admin/logout/"))


def press(page, action):
    page.locator(f"button[data-action={action}]").click()
    expect(page.locator("ul.messagelist")).to_be_visible()


def test_assemble_submit_reorder_approve_publish_and_read(live_server, page, catalogue_data, tmp_path, js_errors, smtp):
    researcher = UserFactory(role="researcher")
    chief = UserFactory(role="chief_editor")
    EntryFactory(title="关于规范村级组织工作事务的意见", issuer="国务院", level=Level.NATIONAL, published_on=AUGUST)
    EntryFactory(
        title="关于推进电子证照试运行的通知", issuer="住房和城乡建设部办公厅", level=Level.MINISTRY, published_on=AUGUST
    )
    EntryFactory(title="江苏省优化营商环境实施意见", regions=[320000], published_on=AUGUST)
    PracticeEntryFactory(title="靖江政务服务跨省通办向基层延伸", regions=[320000], published_on=AUGUST)

    # A researcher creates the August issue, assembles it and submits it.
    sign_in(page, live_server, researcher)
    page.goto(f"{live_server.url}/admin/issues/issue/add/")
    page.select_option("#id_series", label="政务服务分册")
    page.fill("#id_year", "2022")
    page.select_option("#id_month", "8")
    page.fill("#id_number", "4")
    page.click("input[name=_continue]")
    expect(page.locator("ul.messagelist")).to_be_visible()
    page.locator("button[name=_assemble]").click()
    expect(page.locator("ul.messagelist")).to_contain_text("4")
    expect(page.locator(".field-numbering")).to_contain_text("1.1、国务院《关于规范村级组织工作事务的意见》")
    expect(page.locator(".field-numbering")).to_contain_text(
        "1.2、住房和城乡建设部办公厅《关于推进电子证照试运行的通知》"
    )
    expect(page.locator("button[data-action=approve]")).to_have_count(0)  # not the researcher's to take
    press(page, "submit")
    issue = Issue.objects.get(year=2022, month=8)
    assert issue.status == IssueStatus.IN_REVIEW
    sign_out(page, live_server)

    # The chief editor moves the ministry's notice before the State Council's opinion, approves, publishes.
    sign_in(page, live_server, chief)
    page.goto(f"{live_server.url}/admin/issues/issue/{issue.pk}/change/")
    row = page.locator("tr.has_original", has_text="关于推进电子证照试运行的通知")
    row.locator("i.move-begin").click()
    page.click("input[name=_continue]")
    expect(page.locator(".field-numbering")).to_contain_text(
        "1.1、住房和城乡建设部办公厅《关于推进电子证照试运行的通知》"
    )
    press(page, "approve")

    # 立即发布 asks first, saying who will be mailed: three confirmed subscribers get the issue, one takes only
    # Tibet and nothing in it concerns Tibet, one has not confirmed.
    for n in range(3):
        make_subscriber(f"reader{n}@example.org")
    make_subscriber("tibet@example.org", scope=Scope.MATCHING, provinces=[540000])
    make_subscriber("unconfirmed@example.org", status="pending")
    page.locator("button[data-action=publish]").click()
    expect(page.locator("#publication-recipients")).to_contain_text("3")
    expect(page.locator("#publication-nothing")).to_contain_text("1")
    issue.refresh_from_db()
    assert issue.status == IssueStatus.APPROVED  # nothing happened yet
    press(page, "publish")
    expect(page.locator(".field-status")).to_contain_text("已发布")

    # The issue page follows the digests live: the fan-out (a Celery task, not running in this test) has not
    # created the deliveries yet; once it has and a chunk is sent, the page shows it without a reload.
    progress = page.locator("#delivery-progress")
    expect(progress).to_contain_text("正在创建投递")
    services.deliveries_create_for_issue(issue_id=issue.pk)
    services.deliveries_send_chunk(issue_id=issue.pk)
    expect(progress.locator("[data-count=sent]")).to_have_text("3", timeout=10000)
    expect(progress.locator("[data-count=skipped]")).to_have_text("1")
    expect(progress.locator("[data-count=pending]")).to_have_text("0")
    assert sorted(m.rcpt[0] for m in smtp.messages) == [f"reader{n}@example.org" for n in range(3)]
    progress.get_by_role("link", name="投递报告").click()
    expect(page.locator("#count-sent")).to_have_text("3")
    sign_out(page, live_server)

    # Anyone reads it, in the new order, and downloads the PDF.
    page.goto(f"{live_server.url}/issues/2022-08/")
    titles = page.locator("article.entry h3").all_inner_texts()
    assert titles[0].startswith("1.1、住房和城乡建设部办公厅") and titles[1].startswith("1.2、国务院")
    expect(page.locator("article.entry", has_text="靖江政务服务跨省通办向基层延伸")).to_contain_text("【江苏】")
    page.screenshot(path=str(tmp_path / "issue.png"), full_page=True)
    with page.expect_download() as download:
        page.locator("a.button", has_text="PDF").click()
    path = download.value.path()
    with open(path, "rb") as f:
        assert f.read(5) == b"%PDF-"
    assert download.value.suggested_filename == "dgd-zhengwu-2022-08.pdf"
    assert js_errors == []
