"""A subscriber in Chromium: subscribe → the confirmation mail arrives → open its link → confirmed → an issue
is published → the digest arrives with the unsubscribe headers → the one-click POST → unsubscribed.
Mail goes through a real SMTP server on loopback; Celery runs eagerly here (test_worker.py runs a worker)."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from dgd.celery import app as celery_app
from subscribers.models import Subscriber, SubscriberStatus
from tests.factories import UserFactory
from tests.subscribers.helpers import links_in, publish_sample
from tests.subscribers.smtp import SmtpServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "zhang.wei@example.org"


@pytest.fixture
def smtp(settings, live_server):
    settings.SITE_URL = live_server.url
    before = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = celery_app.conf.task_eager_propagates = True
    with SmtpServer() as server:
        server.use_in(settings)
        yield server.recorder
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


def test_subscribe_confirm_receive_and_leave_in_one_click(live_server, page, playwright, smtp):
    page.goto(f"{live_server.url}/")
    page.locator("header nav a[href='/subscribe/']").click()
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=name]", "张伟")
    page.fill("input[name=organisation]", "苏州市行政审批局")
    page.check("input[name=provinces][value='320000']")
    page.check("input[name=themes][value='cross-province']")
    page.check("input[name=scope][value=whole]")
    page.check("input[name=consent]")  # the privacy notice, linked beside the box
    page.locator("form.subscribe-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/subscribe/thanks/$"))
    assert Subscriber.objects.get(email=EMAIL).status == SubscriberStatus.PENDING

    [confirmation] = smtp.wait_for(lambda: smtp.to(EMAIL))
    [link] = [url for url in links_in(confirmation.part("text/plain")) if "/subscribe/confirm/" in url]
    page.goto(link)  # the link shows a page with a button; opening it alone confirms nothing
    assert Subscriber.objects.get(email=EMAIL).status == SubscriberStatus.PENDING
    page.locator("form.confirm-form button[type=submit]").click()
    expect(page.locator("h1.confirmed")).to_be_visible()
    subscriber = Subscriber.objects.get(email=EMAIL)
    assert subscriber.status == SubscriberStatus.CONFIRMED
    assert subscriber.consent_at and subscriber.consent_notice_version == settings.PRIVACY_NOTICE_VERSION
    assert list(subscriber.provinces.values_list("code", flat=True)) == [320000]

    issue = publish_sample(UserFactory(role="chief_editor"))
    digest = smtp.wait_for(lambda: [m for m in smtp.to(EMAIL) if "List-Unsubscribe" in m.headers])[0]
    headers = digest.headers
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = [part.strip(" <>") for part in headers["List-Unsubscribe"].split(",")]
    assert https.startswith(f"{live_server.url}/subscribe/unsubscribe/") and mailto.startswith("mailto:")
    text = digest.part("text/plain")
    assert "张伟" in text and text.index("昆山") < text.index("一、要闻速递")  # Jiangsu first, for this reader
    assert f"{live_server.url}{issue.get_absolute_url()}" in digest.part("text/html")

    # The mail client's one-click POST: a client of its own, with no cookie, no login and no CSRF token.
    mail_client = playwright.request.new_context()
    response = mail_client.post(
        https, data="List-Unsubscribe=One-Click", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status == 200
    mail_client.dispose()
    assert Subscriber.objects.get(email=EMAIL).status == SubscriberStatus.UNSUBSCRIBED

    # The same link opened in the browser shows a page with a button, and pressing it again changes nothing.
    page.goto(https)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("h1.unsubscribed")).to_be_visible()
    assert Subscriber.objects.get(email=EMAIL).status == SubscriberStatus.UNSUBSCRIBED
