"""In Chromium: a sales user saves 江苏 + 跨省通办 as a daily alert; a researcher marks a matching entry ready
in the admin; the daily run mails it (to a real SMTP server); the mail's link opens the entry; the private feed
shows it."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from alerts.schedule import TIME_ZONE
from alerts.services import alerts_send
from tests.factories import PASSWORD, EntryFactory, UserFactory
from tests.subscribers.smtp import SmtpServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/alerts-saved.png"


def sign_in(page, url, user, *, button="button[type=submit]"):
    page.goto(url)
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click(button)


def next_daily_run():
    """Five seconds past the next 08:00 in Asia/Shanghai."""
    local = timezone.now().astimezone(TIME_ZONE)
    slot = local.replace(hour=8, minute=0, second=5, microsecond=0)
    return slot if slot > local else slot + datetime.timedelta(days=1)


def test_a_daily_alert_from_saving_to_mail_and_feed(live_server, page, browser, settings, js_errors):
    settings.SITE_URL = live_server.url
    sales, researcher = UserFactory(role="sales"), UserFactory(role="researcher")
    entry = EntryFactory(
        status="draft", title="江苏省深化政务服务跨省通办的实施方案", regions=[320000], themes=["cross-province"]
    )
    EntryFactory(status="draft", title="浙江省跨省通办清单", regions=[330000], themes=["cross-province"])

    sign_in(page, f"{live_server.url}/library/", sales)
    page.check("input[name=region][value='320000']")
    page.check("input[name=theme][value='cross-province']")
    page.click("#apply-filter")
    page.fill("#id_saved_name", "江苏跨省通办")
    page.click("form.save-filter button[type=submit]")
    expect(page).to_have_url(re.compile(r"/library/saved/$"))
    item = page.locator("#saved-filters li", has_text="江苏跨省通办")
    item.locator("select[name=frequency]").select_option("daily")
    item.locator(".alert-controls button[type=submit]").first.click()
    expect(page.locator("#saved-filters li", has_text="江苏跨省通办").locator("select[name=frequency]")).to_have_value(
        "daily"
    )
    feed_url = page.locator("#saved-filters a.feed-link").first.get_attribute("href")
    page.screenshot(path=SCREENSHOT, full_page=True)

    admin = browser.new_context().new_page()
    sign_in(admin, f"{live_server.url}/admin/", researcher, button="input[type=submit]")
    admin.goto(f"{live_server.url}/admin/policies/policy/")
    admin.check(f"input[name=_selected_action][value='{entry.pk}']")
    admin.select_option("select[name=action]", "mark_ready")
    admin.click("button[name=index]")
    expect(admin.locator("ul.messagelist")).to_contain_text("就绪")

    with SmtpServer() as server:
        server.use_in(settings)
        report = alerts_send(frequency="daily", now=next_daily_run())
        assert report.sent == 1
        (received,) = server.recorder.messages
    assert received.rcpt == [sales.email]
    text = received.part("text/plain")
    assert "江苏省深化政务服务跨省通办的实施方案" in text and "浙江省跨省通办清单" not in text
    link = re.search(r"(https?://\S+/library/entry/\d+/)", text)[1]

    page.goto(link)
    expect(page.locator("h1")).to_contain_text("江苏省深化政务服务跨省通办的实施方案")

    feed = page.context.request.get(feed_url)  # a feed reader: no session needed
    assert feed.ok and "江苏省深化政务服务跨省通办的实施方案" in feed.text()
    assert "浙江省跨省通办清单" not in feed.text()
    assert js_errors == []
