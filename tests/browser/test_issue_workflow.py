"""The editor's journey in Chromium: a researcher assembles August 2022, reorders it, edits 本期导读 and submits it
in one step (the edit is kept); the chief editors are mailed (a real SMTP server); a chief editor finds it on the
start page, approves it (the researcher is mailed), confirms publishing with the subscriber count shown and follows
the digests going out; an anonymous visitor reads it and downloads the PDF. A researcher who is also a chief
editor cannot approve the issue they submitted."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from issues.models import Issue, IssueNotice, IssueStatus
from policies.models import Level
from subscribers import services
from subscribers.models import Scope
from tests.factories import PASSWORD, EntryFactory, IssueEntryFactory, IssueFactory, PracticeEntryFactory, UserFactory
from tests.subscribers.helpers import make_subscriber
from tests.subscribers.smtp import SmtpServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AUGUST = datetime.date(2022, 8, 8)
SCREENSHOTS = "/tmp"  # admin-start-page.png, admin-issue-in-review.png: the staff side, to look at


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


def test_submit_with_an_edit_mail_approve_confirm_publish_and_read(
    live_server, page, tmp_path, js_errors, smtp, eager_celery, settings
):
    settings.ISSUES_ALLOW_SELF_APPROVAL = False
    researcher = UserFactory(role="researcher")
    chief = UserFactory(role="chief_editor")
    EntryFactory(title="关于规范村级组织工作事务的意见", issuer="国务院", level=Level.NATIONAL, published_on=AUGUST)
    EntryFactory(
        title="关于推进电子证照试运行的通知", issuer="住房和城乡建设部办公厅", level=Level.MINISTRY, published_on=AUGUST
    )
    EntryFactory(title="江苏省优化营商环境实施意见", regions=[320000], published_on=AUGUST)
    PracticeEntryFactory(title="靖江政务服务跨省通办向基层延伸", regions=[320000], published_on=AUGUST)

    # A researcher creates the August issue (the form starts from the series and a month) and assembles it.
    sign_in(page, live_server, researcher)
    page.goto(f"{live_server.url}/admin/issues/issue/add/")
    expect(page.locator("#id_series")).to_have_value(
        str(Issue._meta.get_field("series").related_model.objects.get().pk)
    )
    expect(page.locator("#id_number")).to_have_value("1")  # the series' first issue
    page.fill("#id_year", "2022")
    page.select_option("#id_month", "8")
    page.fill("#id_number", "4")
    page.click("input[name=_continue]")
    expect(page.locator("ul.messagelist")).to_be_visible()
    page.locator("button[value=assemble]").click()
    expect(page.locator("ul.messagelist")).to_contain_text("4")
    expect(page.locator(".field-numbering")).to_contain_text("1.1、国务院《关于规范村级组织工作事务的意见》")
    expect(page.locator("button[data-action=approve]")).to_have_count(0)  # not the researcher's to take

    # It moves the ministry's notice first, rewrites the introduction and submits: one press keeps both.
    row = page.locator("tr.has_original", has_text="关于推进电子证照试运行的通知")
    row.locator("i.move-begin").click()
    page.fill("#id_intro", "本期聚焦电子证照与村级组织减负。")
    press(page, "submit")
    issue = Issue.objects.get(year=2022, month=8)
    assert issue.status == IssueStatus.IN_REVIEW
    assert issue.intro == "本期聚焦电子证照与村级组织减负。"
    expect(page.locator(".field-numbering")).to_contain_text(
        "1.1、住房和城乡建设部办公厅《关于推进电子证照试运行的通知》"
    )
    expect(page.locator("#content-locked")).to_be_visible()  # in review: read-only
    expect(page.locator("#id_intro")).to_have_count(0)
    page.screenshot(path=f"{SCREENSHOTS}/admin-issue-in-review.png", full_page=True)

    # The chief editor is mailed, with a link to the issue.
    mail = smtp.wait_for(lambda: smtp.to(chief.email))[0]
    assert "提交审核" in mail.message["Subject"] and str(issue) in mail.message["Subject"]
    assert f"/admin/issues/issue/{issue.pk}/change/" in mail.part("text/plain")
    sign_out(page, live_server)

    # The chief editor finds it on the start page and approves; the researcher hears of it.
    sign_in(page, live_server, chief)
    review = page.locator("#start-review")
    expect(review).to_contain_text(str(issue))
    page.screenshot(path=f"{SCREENSHOTS}/admin-start-page.png", full_page=True)
    review.get_by_role("link", name=str(issue)).click()
    press(page, "approve")
    expect(page.locator(".field-status")).to_contain_text("已批准")
    approved = smtp.wait_for(lambda: smtp.to(researcher.email))[0]
    assert "已批准" in approved.message["Subject"]

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

    # The issue page follows the digests live: once the fan-out has created the deliveries and a chunk is sent,
    # the page shows it without a reload.
    progress = page.locator("#delivery-progress")
    expect(progress).to_be_visible()
    services.deliveries_create_for_issue(issue_id=issue.pk)
    services.deliveries_send_chunk(issue_id=issue.pk)
    expect(progress.locator("[data-count=sent]")).to_have_text("3", timeout=10000)
    expect(progress.locator("[data-count=skipped]")).to_have_text("1")
    readers = [m.rcpt[0] for m in smtp.messages if m.rcpt[0].startswith("reader")]
    assert sorted(readers) == [f"reader{n}@example.org" for n in range(3)]
    assert set(IssueNotice.objects.values_list("status", flat=True)) == {"sent"}
    sign_out(page, live_server)

    # Anyone reads it, in the new order, and downloads the PDF.
    page.goto(f"{live_server.url}/issues/2022-08/")
    titles = page.locator("article.entry h3").all_inner_texts()
    assert titles[0].startswith("1.1、住房和城乡建设部办公厅") and titles[1].startswith("1.2、国务院")
    page.screenshot(path=str(tmp_path / "issue.png"), full_page=True)
    with page.expect_download(timeout=60000) as download:  # the PDF is rendered on first request
        page.locator("a.button", has_text="PDF").click()
    with open(download.value.path(), "rb") as f:
        assert f.read(5) == b"%PDF-"
    assert js_errors == []


def test_a_researcher_who_is_also_chief_editor_cannot_approve_their_own_issue(live_server, page, js_errors, settings):
    from django.contrib.auth.models import Group

    settings.ISSUES_ALLOW_SELF_APPROVAL = False
    both = UserFactory(role="researcher")
    both.groups.add(Group.objects.get(name="主编"))
    issue = IssueFactory(year=2022, month=9, number=5, status=IssueStatus.DRAFT)
    IssueEntryFactory(issue=issue)
    sign_in(page, live_server, both)
    page.goto(f"{live_server.url}/admin/issues/issue/{issue.pk}/change/")
    press(page, "submit")
    expect(page.locator("#self-approval")).to_contain_text("另一位主编")
    expect(page.locator("button[data-action=approve]")).to_have_count(0)
    expect(page.locator("button[data-action=return_to_draft]")).to_have_count(1)  # sending back stays theirs
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("#start-review")).not_to_contain_text(str(issue))
    issue.refresh_from_db()
    assert issue.status == IssueStatus.IN_REVIEW
    assert js_errors == []
