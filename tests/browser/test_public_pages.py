"""Every public and subscriber page in Chromium at 390 px and 1366 px: nothing scrolls sideways, and a
screenshot of each lands in test-results/screenshots/. Along the way, what a reader does on them: previous and
next issue, the archive search, the subscribe prompt, the feed's page, the footer, the sign-out button, the
"fewer mails" alternatives and deleting one's data; and the digest mail's HTML part at both widths."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from issues.models import IssueStatus
from issues.selectors import issue_data
from issues.services import issue_import_newsletter
from issues.workflow import issue_approve, issue_publish, issue_submit
from subscribers.digests import DigestRenderer, personalise
from subscribers.models import ConfirmationRequest, Scope, Subscriber, SubscriberStatus
from subscribers.tokens import confirm_token, manage_token
from tests.browser.screens import check_current, check_page
from tests.factories import PASSWORD, IssueEntryFactory, IssueFactory, UserFactory
from tests.subscribers.helpers import make_subscriber

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_issues(sample_bytes, eager_celery):
    """The sample issue (2022-08, published on import) and a September issue taken through the workflow."""
    august = issue_import_newsletter(data=sample_bytes, source_name="dgd-2022-08-zhengwu.txt").issue
    september = IssueFactory(year=2022, month=9, number=5, series=august.series, status=IssueStatus.DRAFT)
    IssueEntryFactory(
        issue=september,
        entry__title="九月的一条政策：政务数据共享条例",
        entry__source_url="https://www.gov.cn/zhengce/content/2022-09/01/content_1.htm",
    )
    researcher, chief = UserFactory(role="researcher"), UserFactory(role="chief_editor")
    issue_submit(issue=september, by=researcher)
    issue_approve(issue=september, by=chief)
    issue_publish(issue=september, by=chief)
    return august, september


def test_public_pages_at_both_widths(live_server, page, two_issues, js_errors):
    base = live_server.url
    check_page(page, "home", url=f"{base}/")
    check_page(page, "archive", url=f"{base}/issues/")

    check_page(page, "issue", url=f"{base}/issues/2022-08/")
    # No grey, dead 政策原文 for an entry without a link: every one shown is a link.
    expect(page.locator("main")).not_to_contain_text("政策原文")  # no entry of the sample has a link
    expect(page.locator(".issue-pager a[rel=next]")).to_contain_text("2022年09月")
    expect(page.locator(".issue-pager a[rel=prev]")).to_have_count(0)
    expect(page.locator(".subscribe-prompt a[href='/subscribe/']")).to_be_visible()
    page.locator(".issue-pager a[rel=next]").click()
    expect(page).to_have_url(re.compile(r"/issues/2022-09/$"))
    expect(page.locator(".issue-pager a[rel=prev]")).to_contain_text("2022年08月")
    expect(page.locator(".entry-title a.source")).to_have_text("政策原文")  # the one entry with a link

    # The footer: operator, contact, privacy notice and the ICP number, from settings.
    footer = page.locator("footer.site-footer")
    expect(footer).to_contain_text(settings.DGD_OPERATOR)
    expect(footer).to_contain_text(settings.DGD_ICP_NUMBER)
    expect(footer.locator(".email")).to_have_text(settings.DGD_CONTACT_EMAIL)
    footer.locator("a[href='/privacy/']").click()
    expect(page.locator("h1")).to_have_text("隐私政策")
    check_current(page, "privacy")

    page.goto(f"{base}/issues/")
    page.fill(".search-form input[name=q]", "跨省通办 靖江")
    page.locator(".search-form button").click()
    expect(page).to_have_url(re.compile(r"/issues/search/\?q="))
    expect(page.locator(".search-hits li")).to_have_count(1)
    expect(page.locator(".search-hits li")).to_contain_text("靖江政务服务“跨省通办”向基层延伸")
    check_current(page, "search")
    page.locator(".search-hits a").first.click()
    expect(page).to_have_url(re.compile(r"/issues/2022-08/#entry-3-3$"))
    check_page(page, "search-empty", url=f"{base}/issues/search/?q=%3Cb%3E不存在的词%3C/b%3E")
    expect(page.locator(".search-summary")).to_contain_text("<b>不存在的词</b>")  # shown as text, not markup

    page.goto(f"{base}/")
    page.locator("header nav a", has_text="RSS").click()
    expect(page).to_have_url(re.compile(r"/issues/rss/$"))
    expect(page.locator(".feed-url input")).to_have_value(f"{base}/issues/feed/")
    check_current(page, "feed-page")
    assert js_errors == []


def test_a_signed_in_reader_sees_who_they_are_and_signs_out(live_server, page):
    sales = UserFactory(role="sales", first_name="", last_name="")
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", sales.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/")
    expect(page.locator(".user-tools .user-name")).to_have_text(sales.username)
    check_current(page, "home-signed-in")
    page.locator(".user-tools button", has_text="退出登录").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator(".user-tools")).to_have_count(0)


def test_subscriber_pages_at_both_widths(live_server, page, settings, js_errors):
    base = live_server.url
    check_page(page, "subscribe", url=f"{base}/subscribe/")
    # 34 provinces in a grid of columns, not one column 2,000 px tall.
    provinces = page.locator("fieldset.field-provinces")
    assert provinces.bounding_box()["height"] < 600
    page.fill("input[name=email]", "li.na@example.org")
    page.locator("form.subscribe-form button[type=submit]").click()  # consent not ticked: refused, kept
    expect(page.locator(".field-consent .errorlist")).to_be_visible()
    assert not Subscriber.objects.exists()
    check_current(page, "subscribe-errors")
    expect(page.locator(".field-consent a[href='/privacy/']")).to_be_visible()
    page.check("input[name=consent]")
    page.check("input[name=provinces][value='320000']")
    page.locator("form.subscribe-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/subscribe/thanks/$"))
    check_current(page, "thanks")

    pending = Subscriber.objects.get(email="li.na@example.org")
    request = ConfirmationRequest.objects.get(subscriber=pending)
    assert request.preferences["notice_version"] == settings.PRIVACY_NOTICE_VERSION
    check_page(page, "confirm", url=f"{base}/subscribe/confirm/{confirm_token(request.nonce)}/")
    page.locator("form.confirm-form button").click()
    expect(page.locator("h1.confirmed")).to_be_visible()
    check_current(page, "confirmed")
    pending.refresh_from_db()
    assert pending.status == SubscriberStatus.CONFIRMED and pending.consent_at
    assert pending.consent_notice_version == settings.PRIVACY_NOTICE_VERSION

    token = manage_token(pending.pk)
    check_page(page, "manage", url=f"{base}/subscribe/manage/{token}/")
    expect(page.locator(".record")).to_contain_text(settings.PRIVACY_NOTICE_VERSION)

    check_page(page, "unsubscribe", url=f"{base}/subscribe/unsubscribe/{token}/")
    page.locator(".alternative button", has_text="暂停 3 个月").click()
    expect(page).to_have_url(re.compile(rf"/subscribe/manage/{re.escape(token)}/$"))
    expect(page.locator(".messagelist")).to_contain_text("暂停至")
    assert Subscriber.objects.get(pk=pending.pk).is_paused
    assert not Subscriber.objects.confirmed().filter(pk=pending.pk).exists()  # no digest while paused
    check_current(page, "manage-paused")
    page.locator(".alternative button", has_text="立即恢复").click()
    expect(page.locator(".messagelist")).to_contain_text("已恢复")
    page.goto(f"{base}/subscribe/unsubscribe/{token}/")
    page.locator("form.alternative:has(input[value=matching]) button").click()
    assert Subscriber.objects.get(pk=pending.pk).scope == Scope.MATCHING

    page.goto(f"{base}/subscribe/unsubscribe/{token}/")
    page.locator("form.unsubscribe-form button").click()
    expect(page.locator("h1.unsubscribed")).to_be_visible()
    check_current(page, "unsubscribed")
    page.locator("a", has_text="删除我的信息").click()
    check_current(page, "erase")
    page.locator("form.erase-form button").click()
    expect(page.locator("h1.erased")).to_be_visible()
    check_current(page, "erased")
    assert not Subscriber.objects.filter(pk=pending.pk).exists()
    check_page(page, "bad-token", url=f"{base}/subscribe/manage/{token}/")
    expect(page.locator("h1.bad-token")).to_be_visible()

    settings.SUBSCRIBERS_RATE_LIMIT = "0/3600"
    page.goto(f"{base}/subscribe/")
    page.fill("input[name=email]", "zhao@example.org")
    page.check("input[name=consent]")
    page.locator("form.subscribe-form button[type=submit]").click()
    expect(page.locator("h1.rate-limited")).to_be_visible()
    check_current(page, "rate-limited")
    # The bad link's 400 and the 429 are the answers expected; nothing else may go wrong in the page.
    assert [e for e in js_errors if not re.search(r"status of (400|429)", e)] == []


def test_the_digest_html_reads_well_at_both_widths(page, sample_bytes):
    issue = issue_import_newsletter(data=sample_bytes, source_name="dgd-2022-08-zhengwu.txt").issue
    subscriber = make_subscriber("reader@example.org", name="张伟", provinces=[320000], themes=["cross-province"])
    renderer = DigestRenderer(issue=issue, data=issue_data(issue), revision_number=1)
    rendered = renderer.group((Scope.WHOLE, (320000,), ("cross-province",)))
    message = personalise(rendered, subscriber_id=subscriber.pk, email=subscriber.email, name="张伟", issue_id=1)
    html = message.alternatives[0][0]
    check_page(page, "digest", html=html)
    text = page.locator("body").inner_text()
    assert "本期导读" in text and "为您精选" in text
    # A folded line never shows as a space in running Chinese text (the old fold broke after "，").
    paragraphs = page.locator("p").all_inner_texts()
    assert len(paragraphs) > 20
    assert [p for p in paragraphs if re.search(r"[\u3000-\u303f\uff00-\uffef\u4e00-\u9fff] [\u4e00-\u9fff]", p)] == []
    # Folding never breaks a tag: the bold phrases stay phrases (a broken </strong> made whole paragraphs bold).
    assert max(len(bold) for bold in page.locator("strong").all_inner_texts()) < 60
    titles = page.locator("h3").all_inner_texts()
    numbers = [title.split("、", 1)[0] for title in titles]
    assert len(numbers) == len(set(numbers)), "an entry chosen for the reader is repeated in its section"
