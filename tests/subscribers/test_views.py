"""Public pages: subscribe (double opt-in, no enumeration, rate limit), confirm, preferences, unsubscribe."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from subscribers.models import ConfirmationRequest, Delivery, DeliveryStatus, Scope, Subscriber, SubscriberStatus
from subscribers.tokens import confirm_token, manage_token, new_nonce
from tests.factories import IssueFactory
from tests.subscribers.helpers import links_in, make_subscriber

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


def post_subscribe(client, email, **extra):
    data = {"email": email, "name": "王芳", "organisation": "省大数据局", "scope": "whole", "consent": "on", **extra}
    return client.post(reverse("subscribers:subscribe"), data)


def confirm_path(mail):
    [link] = [url for url in links_in(mail.part("text/plain")) if "/confirm/" in url]
    return link.split("8000", 1)[1]


def press_confirm(path):
    """What a person does: open the link (a page with a button) and press the button, CSRF token and all."""
    client = Client(enforce_csrf_checks=True)
    page = client.get(path)
    if page.status_code != 200:
        return page
    assert "确认订阅" in page.content.decode() and 'method="post"' in page.content.decode()
    return client.post(path, {"csrfmiddlewaretoken": page.context["csrf_token"]})


@pytest.fixture
def request_link(client, smtp, eager_celery, settings, django_capture_on_commit_callbacks):
    """Ask for a subscription through the page; the path of the confirmation link mailed for it."""
    settings.SUBSCRIBERS_EMAIL_RATE_LIMIT = "100/3600"

    def ask(email, **extra):
        before = len(smtp.to(email))
        with django_capture_on_commit_callbacks(execute=True):
            post_subscribe(client, email, **extra)
        mails = smtp.wait_for(lambda: len(smtp.to(email)) > before and smtp.to(email))
        return confirm_path(mails[-1])

    return ask


def codes(subscriber):
    return sorted(subscriber.provinces.values_list("code", flat=True))


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
    path = confirm_path(mail)

    response = client.get(path)  # what a mail scanner does: nothing changes
    assert response.status_code == 200 and 'method="post"' in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.PENDING and not subscriber.confirmed_at

    response = press_confirm(path)
    assert response.status_code == 200 and "订阅已确认" in response.content.decode()
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


@pytest.mark.parametrize("mangle", ["forged", "altered", "expired", "unknown", "former format"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_bad_confirmation_link_is_400_and_changes_nothing(client, settings, mangle, method):
    subscriber = make_subscriber("p@example.org", status=SubscriberStatus.PENDING)
    request = ConfirmationRequest.objects.create(
        subscriber=subscriber, nonce=new_nonce(), preferences={"scope": "matching", "provinces": [110000]}
    )
    token = confirm_token(request.nonce)
    if mangle == "forged":
        token = "eyJzIjoxfQ:1vQxyz:forgedsignatureforgedsignature"
    elif mangle == "altered":
        token = token[:-3] + ("xyz" if not token.endswith("xyz") else "abc")
    elif mangle == "unknown":
        token = confirm_token(new_nonce())
    elif mangle == "former format":
        from django.core import signing

        token = signing.dumps({"s": subscriber.pk, "p": request.preferences}, salt="subscribers.confirm", compress=True)
    else:
        settings.SUBSCRIBERS_CONFIRM_MAX_AGE = -1
    response = getattr(client, method)(reverse("subscribers:confirm", args=[token]))
    assert response.status_code == 400
    assert "该链接无效" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.PENDING and not subscriber.provinces.exists()


def test_opening_the_link_changes_nothing_and_the_button_needs_csrf(request_link, client):
    path = request_link("scan@example.org", provinces=["110000"])
    scanner = Client(enforce_csrf_checks=True)
    for _ in range(3):
        assert scanner.get(path).status_code == 200
    assert scanner.head(path).status_code in (200, 405)
    assert scanner.post(path).status_code == 403  # a POST without the page's CSRF token
    subscriber = Subscriber.objects.get(email="scan@example.org")
    assert subscriber.status == SubscriberStatus.PENDING and not subscriber.confirmed_at
    assert press_confirm(path).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.CONFIRMED and codes(subscriber) == [110000]


def test_the_link_reveals_no_preferences(request_link, client):
    import base64
    import zlib

    path = request_link("secret@example.org", name="保密姓名", provinces=["540000"], themes=["e-licence"])
    token = path.rstrip("/").rsplit("/", 1)[1]
    for part in token.split(":"):
        raw = base64.urlsafe_b64decode(part.lstrip(".") + "=" * (-len(part.lstrip(".")) % 4))
        # django.core.signing marks a compressed payload with a leading "." (a random part may start with "x")
        for blob in (raw, zlib.decompress(raw) if part.startswith(".") else b""):
            text = blob.decode("utf-8", "replace")
            for secret in ("540000", "e-licence", "保密姓名", "\\u4fdd\\u5bc6", "secret@", "provinces"):
                assert secret not in text


def test_a_confirmation_link_works_once(request_link, client):
    path = request_link("once@example.org", provinces=["110000"])
    assert press_confirm(path).status_code == 200
    subscriber = Subscriber.objects.get(email="once@example.org")
    subscriber.provinces.set([320000])  # changed since, by whatever means
    for method in ("get", "post"):
        response = getattr(Client(), method)(path)
        assert response.status_code == 400 and "已使用" in response.content.decode(), method
    assert codes(subscriber) == [320000]


def test_an_old_link_never_undoes_an_unsubscribe(request_link, client):
    path = request_link("leave@example.org", provinces=["110000"])
    assert press_confirm(path).status_code == 200
    subscriber = Subscriber.objects.get(email="leave@example.org")
    unsubscribe = reverse("subscribers:unsubscribe", args=[manage_token(subscriber.pk)])
    assert Client(enforce_csrf_checks=True).post(unsubscribe).status_code == 200

    response = press_confirm(path)
    assert response.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED


def test_an_unused_link_asked_for_before_an_unsubscribe_is_refused(request_link, client):
    old = request_link("second@example.org", provinces=["110000"])
    subscriber = Subscriber.objects.get(email="second@example.org")
    assert press_confirm(request_link("second@example.org", provinces=["320000"])).status_code == 200
    unsubscribe = reverse("subscribers:unsubscribe", args=[manage_token(subscriber.pk)])
    assert Client().post(unsubscribe).status_code == 200

    response = press_confirm(old)
    assert response.status_code == 400 and "不再有效" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED and codes(subscriber) == [320000]

    # Asking again after leaving is a new request, and its link works.
    assert press_confirm(request_link("second@example.org", provinces=["540000"])).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.CONFIRMED and codes(subscriber) == [540000]
    assert press_confirm(old).status_code == 400


def test_unsubscribing_again_also_voids_links_asked_for_in_between(request_link, client):
    subscriber = make_subscriber("twice@example.org", status=SubscriberStatus.UNSUBSCRIBED)
    path = request_link("twice@example.org", provinces=["110000"])
    assert Client().post(reverse("subscribers:unsubscribe", args=[manage_token(subscriber.pk)])).status_code == 200
    assert press_confirm(path).status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED and not subscriber.provinces.exists()


def test_an_older_link_never_undoes_a_newer_preference_change(request_link, client):
    first, second, third, fourth = [
        request_link("prefs@example.org", provinces=[code]) for code in ("110000", "320000", "440000", "510000")
    ]
    subscriber = Subscriber.objects.get(email="prefs@example.org")

    assert press_confirm(second).status_code == 200
    assert codes(subscriber) == [320000]
    assert press_confirm(first).status_code == 400  # asked for before the preferences in force
    assert codes(subscriber) == [320000]
    assert press_confirm(third).status_code == 200  # asked for later: it applies
    assert codes(subscriber) == [440000]

    manage = reverse("subscribers:manage", args=[manage_token(subscriber.pk)])
    data = {"name": "", "organisation": "", "provinces": ["650000"], "themes": [], "scope": "whole"}
    assert client.post(manage, data).status_code == 302
    response = press_confirm(fourth)  # asked for before that change in the preference centre
    assert response.status_code == 400 and "不再有效" in response.content.decode()
    assert codes(subscriber) == [650000]


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


@pytest.mark.parametrize(
    "spelling",
    ["victim@ｅxample.org", "VICTIM@EXAMPLE.ORG", "victim@ｅｘａｍｐｌｅ.ｏｒｇ", " victim@example.org "],
)
def test_another_spelling_of_an_address_counts_against_the_same_limit(
    client, settings, smtp, eager_celery, django_capture_on_commit_callbacks, spelling
):
    settings.SUBSCRIBERS_EMAIL_RATE_LIMIT = "1/3600"
    with django_capture_on_commit_callbacks(execute=True):
        assert post_subscribe(client, "victim@example.org").status_code == 302
        assert post_subscribe(client, spelling).status_code == 302  # the same answer, and no second mail
    assert len(smtp.wait_for(lambda: smtp.to("victim@example.org"))) == 1
    assert list(Subscriber.objects.values_list("email", flat=True)) == ["victim@example.org"]


@pytest.mark.parametrize("address", ['"victim"@example.org', '"vict\\im"@example.org', "vic tim@example.org"])
def test_quoted_or_escaped_addresses_are_refused(client, address):
    response = post_subscribe(client, address)
    assert response.status_code == 200
    assert response.context["form"].errors["email"]  # Django's own message, or ours for a quoted local part
    assert not Subscriber.objects.exists()


def test_a_confirmation_mail_carries_no_text_a_stranger_typed(
    client, smtp, eager_celery, django_capture_on_commit_callbacks
):
    bait = "您的账户将被停用，请立即访问 https://evil.example/verify 重新验证"
    with django_capture_on_commit_callbacks(execute=True):
        post_subscribe(client, "victim@example.org", name=bait, organisation=bait)
    [mail] = smtp.wait_for(lambda: smtp.to("victim@example.org"))
    for part in ("text/plain", "text/html"):
        assert "evil.example" not in mail.part(part) and "账户将被停用" not in mail.part(part)


def test_a_link_asked_for_before_a_staff_edit_does_not_undo_it(request_link, client, chief_editor):
    path = request_link("edited@example.org", provinces=["110000"])
    subscriber = Subscriber.objects.get(email="edited@example.org")
    staff = Client()
    staff.force_login(chief_editor)
    form = {
        "email": subscriber.email,
        "name": "",
        "organisation": "",
        "provinces": ["320000"],
        "themes": [],
        "scope": "whole",
        "status": "confirmed",
        "source": "web",
    }
    response = staff.post(reverse("admin:subscribers_subscriber_change", args=[subscriber.pk]), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    response = press_confirm(path)
    assert response.status_code == 400 and "不再有效" in response.content.decode()
    assert codes(subscriber) == [320000]


# --- Consent (PIPL), the "fewer mails" alternatives, pausing and deleting -----------------------------------


def test_no_subscription_without_consent_and_the_form_links_the_notice(client):
    page = client.get(reverse("subscribers:subscribe")).content.decode()
    assert 'name="consent"' in page and f'href="{reverse("issues:privacy")}"' in page
    response = post_subscribe(client, "no.consent@example.org", consent="")
    assert response.status_code == 200 and response.context["form"].errors["consent"]
    assert "请阅读隐私政策并勾选此项后再订阅" in response.content.decode()
    assert not Subscriber.objects.exists()


def test_consent_is_recorded_with_its_time_and_notice_version(
    request_link, client, settings, django_capture_on_commit_callbacks
):
    settings.PRIVACY_NOTICE_VERSION = "2026-11-test"
    path = request_link("consent@example.org")
    settings.PRIVACY_NOTICE_VERSION = "2027-01"  # the notice changed after the request: the request's version counts
    assert press_confirm(path).status_code == 200
    subscriber = Subscriber.objects.get(email="consent@example.org")
    assert subscriber.consent_at and subscriber.consent_notice_version == "2026-11-test"
    page = client.get(reverse("subscribers:manage", args=[manage_token(subscriber.pk)])).content.decode()
    assert "2026-11-test" in page  # the subscriber sees what they agreed to, and when


def fewer(client, subscriber, choice):
    return client.post(reverse("subscribers:fewer", args=[manage_token(subscriber.pk)]), {"choice": choice})


def test_the_unsubscribe_page_offers_fewer_mails_first(client):
    subscriber = make_subscriber("fewer@example.org", provinces=[320000])
    page = client.get(reverse("subscribers:unsubscribe", args=[manage_token(subscriber.pk)])).content.decode()
    for choice in ("matching", "links", "pause30", "pause90"):
        assert f'value="{choice}"' in page
    assert "只收与我相关的" in page and "只要链接" in page and "暂停 3 个月" in page

    assert fewer(client, subscriber, "matching").status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.scope == Scope.MATCHING and codes(subscriber) == [320000]
    assert fewer(client, subscriber, "links").status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.scope == Scope.LINKS and subscriber.status == SubscriberStatus.CONFIRMED


def test_only_what_matches_needs_a_province_or_theme_first(client):
    subscriber = make_subscriber("nothing.chosen@example.org")
    response = fewer(client, subscriber, "matching")
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.scope == Scope.WHOLE
    assert "请先至少选择一个省份或主题" in client.get(response.url).content.decode()


def test_a_pause_leaves_the_subscriber_out_of_the_next_fan_out_until_it_ends(client):
    from datetime import timedelta

    from django.utils import timezone

    subscriber = make_subscriber("pause@example.org")
    assert fewer(client, subscriber, "pause90").status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.is_paused and subscriber.status == SubscriberStatus.CONFIRMED
    assert timezone.now() + timedelta(days=89) < subscriber.paused_until < timezone.now() + timedelta(days=91)
    assert not Subscriber.objects.confirmed().filter(pk=subscriber.pk).exists()
    assert fewer(client, subscriber, "resume").status_code == 302
    assert Subscriber.objects.confirmed().filter(pk=subscriber.pk).exists()
    Subscriber.objects.filter(pk=subscriber.pk).update(paused_until=timezone.now() - timedelta(minutes=1))
    assert Subscriber.objects.confirmed().filter(pk=subscriber.pk).exists()  # an ended pause needs nothing more


def test_the_alternatives_need_csrf_and_a_good_link(client):
    subscriber = make_subscriber("csrf@example.org")
    url = reverse("subscribers:fewer", args=[manage_token(subscriber.pk)])
    assert Client(enforce_csrf_checks=True).post(url, {"choice": "pause30"}).status_code == 403
    assert client.post(url.replace(":", ":x", 1), {"choice": "pause30"}).status_code == 400
    assert client.post(url, {"choice": "everything"}).status_code == 400
    assert client.get(url).status_code == 405
    subscriber.refresh_from_db()
    assert subscriber.paused_until is None


def test_deleting_ones_data_removes_everything_and_voids_the_links(client):
    subscriber = make_subscriber("erase@example.org", provinces=[110000], name="赵六")
    Delivery.objects.create(issue=IssueFactory(), subscriber=subscriber)
    token = manage_token(subscriber.pk)
    url = reverse("subscribers:erase", args=[token])
    page = client.get(url)
    assert page.status_code == 200 and "erase@example.org" in page.content.decode()
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()  # the page alone deletes nothing
    assert Client(enforce_csrf_checks=True).post(url).status_code == 403
    response = client.post(url)
    assert response.status_code == 200 and "您的信息已删除" in response.content.decode()
    assert not Subscriber.objects.exists() and not Delivery.objects.exists()
    assert client.get(reverse("subscribers:manage", args=[token])).status_code == 400
    assert client.get(reverse("subscribers:unsubscribe", args=[token])).status_code == 400


@pytest.mark.parametrize(
    "name", ["subscribe", "subscribe_done", "confirm", "manage", "unsubscribe", "erase", "bad_token"]
)
def test_subscriber_pages_carry_the_footer_and_no_english(client, name):
    subscriber = make_subscriber("pages@example.org", status=SubscriberStatus.CONFIRMED)
    request = ConfirmationRequest.objects.create(subscriber=subscriber, nonce=new_nonce(), preferences={})
    token = manage_token(subscriber.pk)
    urls = {
        "subscribe": reverse("subscribers:subscribe"),
        "subscribe_done": reverse("subscribers:subscribe_done"),
        "confirm": reverse("subscribers:confirm", args=[confirm_token(request.nonce)]),
        "manage": reverse("subscribers:manage", args=[token]),
        "unsubscribe": reverse("subscribers:unsubscribe", args=[token]),
        "erase": reverse("subscribers:erase", args=[token]),
        "bad_token": reverse("subscribers:manage", args=["1:forged"]),
    }
    page = client.get(urls[name]).content.decode()
    assert "隐私政策" in page and "ICP备" in page
    words = re.findall(r">([^<]*[A-Za-z]{4,}[^<]*)<", re.sub(r"(?s)<(script|style|head)\b.*?</\1>", "", page))
    allowed = ("DIGITAL GOVERNMENT DYNAMICS", "PDF", "RSS", "@example", "pages@example.org")
    assert [w.strip() for w in words if w.strip() and not any(a in w for a in allowed)] == []
