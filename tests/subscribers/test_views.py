"""Public pages: subscribe (double opt-in, no enumeration, rate limit), confirm, preferences, unsubscribe."""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from subscribers.models import Delivery, DeliveryStatus, Scope, Subscriber, SubscriberStatus
from subscribers.tokens import confirm_token, manage_token
from tests.factories import IssueFactory
from tests.subscribers.helpers import links_in, make_subscriber

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def post_subscribe(client, email, **extra):
    data = {"email": email, "name": "王芳", "organisation": "省大数据局", "scope": "whole", **extra}
    return client.post(reverse("subscribers:subscribe"), data)


def test_the_page_asks_for_everything(client):
    response = client.get(reverse("subscribers:subscribe"))
    assert response.status_code == 200
    for name in ("email", "name", "organisation", "provinces", "themes", "scope"):
        assert f'name="{name}"' in response.content.decode()


def test_subscribe_confirm_round_trip(client, smtp, eager_celery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_subscribe(client, "Wang.Fang@Example.org", provinces=["320000", "110000"], themes=["e-licence"])
    assert response.status_code == 302 and response.url == reverse("subscribers:subscribe_done")
    subscriber = Subscriber.objects.get(email="wang.fang@example.org")
    assert subscriber.status == SubscriberStatus.PENDING
    [mail] = smtp.wait_for(lambda: smtp.to("wang.fang@example.org"))
    [link] = [url for url in links_in(mail.part("text/plain")) if "/confirm/" in url]

    response = client.get(link.split("8000", 1)[1])
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.CONFIRMED and subscriber.confirmed_at and subscriber.consent_at
    assert sorted(subscriber.provinces.values_list("code", flat=True)) == [110000, 320000]
    assert subscriber.name == "王芳"


def test_no_enumeration_and_no_change_for_a_known_address(
    client, smtp, eager_celery, django_capture_on_commit_callbacks
):
    known = make_subscriber("known@example.org", provinces=[110000], name="原名")
    with django_capture_on_commit_callbacks(execute=True):
        for_known = post_subscribe(client, "known@example.org", provinces=["540000"], name="attacker")
        for_new = post_subscribe(client, "new@example.org", provinces=["540000"])
    assert (for_known.status_code, for_known.url) == (for_new.status_code, for_new.url)
    assert client.get(for_known.url).content == client.get(for_new.url).content
    known.refresh_from_db()
    assert known.name == "原名" and list(known.provinces.values_list("code", flat=True)) == [110000]
    [mail] = smtp.wait_for(lambda: smtp.to("known@example.org"))
    assert "/manage/" in mail.part("text/plain") and "/confirm/" not in mail.part("text/plain")


def test_subscribing_is_rate_limited_per_address_and_per_ip(
    client, settings, smtp, eager_celery, django_capture_on_commit_callbacks
):
    settings.SUBSCRIBERS_EMAIL_RATE_LIMIT = "2/3600"
    settings.SUBSCRIBERS_RATE_LIMIT = "4/3600"
    with django_capture_on_commit_callbacks(execute=True):
        answers = [post_subscribe(client, "flood@example.org").status_code for _ in range(4)]
    assert answers == [302, 302, 302, 302]  # the same answer, but only two mails to that address
    assert len(smtp.wait_for(lambda: len(smtp.to("flood@example.org")) == 2 and smtp.to("flood@example.org"))) == 2
    assert post_subscribe(client, "other@example.org").status_code == 429


def test_matching_only_needs_a_province_or_theme(client):
    response = post_subscribe(client, "a@example.org", scope="matching")
    assert response.status_code == 200
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize("mangle", ["forged", "altered", "expired"])
def test_a_bad_confirmation_link_is_400_and_changes_nothing(client, settings, mangle):
    subscriber = make_subscriber("p@example.org", status=SubscriberStatus.PENDING)
    token = confirm_token(subscriber_id=subscriber.pk, preferences={"scope": "matching", "provinces": [110000]})
    if mangle == "forged":
        token = "eyJzIjoxfQ:1vQxyz:forgedsignatureforgedsignature"
    elif mangle == "altered":
        token = token[:-3] + ("xyz" if not token.endswith("xyz") else "abc")
    else:
        settings.SUBSCRIBERS_CONFIRM_MAX_AGE = -1
    response = client.get(reverse("subscribers:confirm", args=[token]))
    assert response.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.PENDING and not subscriber.provinces.exists()


def test_preference_centre(client):
    subscriber = make_subscriber("c@example.org", provinces=[110000])
    url = reverse("subscribers:manage", args=[manage_token(subscriber.pk)])
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"name": "新名", "organisation": "研究院", "provinces": ["320000"], "themes": [], "scope": "matching"}
    )
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert (subscriber.name, subscriber.scope) == ("新名", Scope.MATCHING)
    assert list(subscriber.provinces.values_list("code", flat=True)) == [320000]
    other = make_subscriber("d@example.org")
    forged = f"{other.pk}:" + manage_token(subscriber.pk).split(":", 1)[1]
    assert client.get(reverse("subscribers:manage", args=[forged])).status_code == 400


def test_one_click_unsubscribe_needs_no_cookie_login_or_csrf_and_is_idempotent():
    subscriber = make_subscriber("u@example.org")
    issue = IssueFactory()
    pending = Delivery.objects.create(issue=issue, subscriber=subscriber)
    client = Client(enforce_csrf_checks=True)
    url = reverse("subscribers:unsubscribe", args=[manage_token(subscriber.pk)])

    page = client.get(url)
    assert page.status_code == 200 and 'method="post"' in page.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.CONFIRMED  # a GET changes nothing

    for _ in range(2):
        response = client.post(url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
        assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED and subscriber.unsubscribed_at
    pending.refresh_from_db()
    assert pending.status == DeliveryStatus.SKIPPED


@pytest.mark.parametrize("token", ["{pk}", "{pk}:bad", "{other}:{sig}", "garbage"])
def test_forged_unsubscribe_is_400_and_changes_nothing(token):
    subscriber = make_subscriber("v@example.org")
    other = make_subscriber("w@example.org")
    signature = manage_token(subscriber.pk).split(":", 1)[1]
    url = reverse("subscribers:unsubscribe", args=[token.format(pk=subscriber.pk, other=other.pk, sig=signature)])
    response = Client(enforce_csrf_checks=True).post(url, "List-Unsubscribe=One-Click", content_type="text/plain")
    assert response.status_code == 400
    assert Subscriber.objects.filter(status=SubscriberStatus.CONFIRMED).count() == 2
