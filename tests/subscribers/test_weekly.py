"""The weekly 快讯: subscribers who chose it get the entries that became ready in the week and match their
provinces or themes, once; its one-click link stops the 快讯 alone; a full unsubscribe stops it too."""

import datetime

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mailings.models import DeliveryStatus, Message
from mailings.schedule import latest_weekly_slot
from mailings.services import batch_send_chunk
from subscribers.models import Subscriber
from subscribers.services import subscriber_unsubscribe
from subscribers.tokens import manage_token
from subscribers.weekly import weekly_send
from tests.alerts.conftest import JIANGSU, ZHEJIANG, ready_entry
from tests.subscribers.helpers import links_in, make_subscriber

pytestmark = [pytest.mark.django_db]

BEIJING = 110000


def next_monday(weeks=1):
    """A Monday 08:00 (Asia/Shanghai) after now: its window holds what becomes ready now."""
    return latest_weekly_slot(datetime.datetime.now(datetime.UTC)) + datetime.timedelta(weeks=weeks)


def weekly_subscriber(email, **preferences):
    subscriber = make_subscriber(email, **preferences)
    Subscriber.objects.filter(pk=subscriber.pk).update(weekly=True)
    return subscriber


@pytest.fixture
def readers(db):
    return {
        "jiangsu": weekly_subscriber("js@example.org", provinces=[JIANGSU]),
        "theme": weekly_subscriber("theme@example.org", themes=["cross-province"]),
        "zhejiang": weekly_subscriber("zj@example.org", provinces=[ZHEJIANG]),
        "monthly": make_subscriber("monthly@example.org", provinces=[JIANGSU]),  # the digest only
    }


def run(now, capture):
    with capture(execute=True):
        return weekly_send(now=now)


def test_the_news_flash_reaches_who_chose_it_with_what_matches_them_once(
    readers, researcher, smtp, eager_celery, django_capture_on_commit_callbacks
):
    suzhou = ready_entry(researcher, regions=[320500], title="苏州市政务服务事项清单")  # a city counts for 江苏
    beijing = ready_entry(researcher, regions=[BEIJING], themes=["cross-province"], title="京津冀跨省通办事项")
    _batch, made = run(next_monday(), django_capture_on_commit_callbacks)
    assert made == 2
    assert sorted(rcpt for m in smtp.messages for rcpt in m.rcpt) == ["js@example.org", "theme@example.org"]
    jiangsu = smtp.to("js@example.org")[0]
    assert suzhou.title in jiangsu.part("text/plain") and beijing.title not in jiangsu.part("text/plain")
    assert suzhou.title in jiangsu.part("text/html")
    theme = smtp.to("theme@example.org")[0].part("text/plain")
    assert beijing.title in theme and suzhou.title not in theme
    assert "快讯" in str(jiangsu.headers["Subject"])

    _batch, made = run(next_monday(), django_capture_on_commit_callbacks)  # the same week again
    assert made == 0 and smtp.count() == 2
    _batch, made = run(next_monday(2), django_capture_on_commit_callbacks)  # next week: nothing new
    assert made == 0 and smtp.count() == 2


def test_the_look_back_brings_a_late_entry_and_never_lists_one_twice(
    readers, researcher, smtp, settings, eager_celery, django_capture_on_commit_callbacks
):
    first = ready_entry(researcher, regions=[JIANGSU], title="江苏省第一批跨省通办事项")
    assert run(next_monday(), django_capture_on_commit_callbacks)[1] == 1
    # Ready before the first slot, yet (as if its transaction committed late) not in the first 快讯: the second
    # week looks back far enough to see both entries, and lists only the late one.
    late = ready_entry(researcher, regions=[JIANGSU], title="江苏省第二批跨省通办事项")
    settings.ALERTS_GRACE = int((next_monday() - timezone.now()).total_seconds()) + 3600
    assert run(next_monday(2), django_capture_on_commit_callbacks)[1] == 1
    second = smtp.to("js@example.org")[-1].part("text/plain")
    assert late.title in second and first.title not in second
    assert run(next_monday(3), django_capture_on_commit_callbacks)[1] == 0


def test_its_one_click_link_stops_the_news_flash_alone(
    readers, researcher, smtp, eager_celery, django_capture_on_commit_callbacks
):
    ready_entry(researcher, regions=[JIANGSU])
    run(next_monday(), django_capture_on_commit_callbacks)
    headers = smtp.to("js@example.org")[0].headers
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = links_in(str(headers["List-Unsubscribe"]))[0].rstrip(">")
    assert "/weekly-off/" in url

    assert Client().get(url).status_code == 200  # a link scanner changes nothing
    assert Subscriber.objects.get(pk=readers["jiangsu"].pk).weekly
    response = Client(enforce_csrf_checks=True).post(url)  # RFC 8058: no cookie, no CSRF token
    assert response.status_code == 200
    subscriber = Subscriber.objects.get(pk=readers["jiangsu"].pk)
    assert not subscriber.weekly and subscriber.is_confirmed  # the monthly digest goes on

    ready_entry(researcher, regions=[JIANGSU])
    run(next_monday(2), django_capture_on_commit_callbacks)
    assert len(smtp.to("js@example.org")) == 1


def test_the_one_click_page_hands_out_no_preference_link_and_the_mailto_says_what_was_asked(
    readers, researcher, smtp, eager_celery, django_capture_on_commit_callbacks
):
    """The header's address is read by mail services and link scanners: it may switch the 快讯 off, nothing more."""
    ready_entry(researcher, regions=[JIANGSU])
    run(next_monday(), django_capture_on_commit_callbacks)
    header = str(smtp.to("js@example.org")[0].headers["List-Unsubscribe"])
    url = links_in(header)[0].rstrip(">")
    for response in (Client().get(url), Client().post(url)):
        page = response.content.decode()
        assert "/subscribe/manage/" not in page and "/unsubscribe/" not in page
        assert manage_token(readers["jiangsu"].pk) not in page
    assert "subject=weekly-off%20" in header  # not "unsubscribe", which the mailbox's reader takes as leaving


def test_an_older_confirmation_link_does_not_switch_it_back_on(readers, researcher, client):
    from subscribers.models import ConfirmationRequest
    from subscribers.services import subscriber_confirm, subscriber_weekly_off
    from subscribers.tokens import StaleToken, confirm_token, new_nonce

    subscriber = readers["jiangsu"]
    earlier = timezone.now() - datetime.timedelta(minutes=5)
    request = ConfirmationRequest.objects.create(
        subscriber=subscriber, nonce=new_nonce(), preferences={"weekly": True}, created_at=earlier
    )
    subscriber_weekly_off(subscriber_id=subscriber.pk)
    with pytest.raises(StaleToken):
        subscriber_confirm(token=confirm_token(request.nonce))
    assert not Subscriber.objects.get(pk=subscriber.pk).weekly


def test_an_entry_sent_back_to_draft_after_the_batch_was_made_is_not_mailed(readers, researcher, smtp):
    from policies.services import entry_mark_draft

    kept = ready_entry(researcher, regions=[JIANGSU], title="江苏省仍然有效的事项")
    withdrawn = ready_entry(researcher, regions=[JIANGSU], title="江苏省撤回的事项")
    batch, _made = weekly_send(now=next_monday())
    entry_mark_draft(entries=[withdrawn], by=researcher)
    batch_send_chunk(batch_id=batch.pk)
    text = smtp.to("js@example.org")[0].part("text/plain")
    assert kept.title in text and withdrawn.title not in text


def test_erasing_a_subscriber_erases_their_mails_of_the_engine(readers, researcher, smtp):
    from mailings.models import Batch
    from subscribers.services import subscriber_erase, subscriber_send_confirmation

    subscriber = readers["jiangsu"]
    ready_entry(researcher, regions=[JIANGSU], themes=["cross-province"])
    weekly_send(now=next_monday())
    subscriber_send_confirmation(subscriber_id=subscriber.pk, preferences={"name": "张三", "organisation": "某局"})
    assert Message.objects.filter(recipient=str(subscriber.pk)).count() == 2

    subscriber_erase(subscriber_id=subscriber.pk)
    assert not Message.objects.filter(email="js@example.org").exists()
    assert "张三" not in str(list(Batch.objects.values_list("params", flat=True)))
    assert Message.objects.filter(email="theme@example.org").exists()  # the others' mails stay


def test_a_full_unsubscribe_stops_a_news_flash_already_queued(readers, researcher, smtp):
    ready_entry(researcher, regions=[JIANGSU])
    batch, made = weekly_send(now=next_monday())  # made, its tasks not yet run
    assert made == 1
    subscriber_unsubscribe(subscriber_id=readers["jiangsu"].pk)
    assert batch_send_chunk(batch_id=batch.pk).skipped == 1
    assert smtp.count() == 0
    assert Message.objects.get(batch=batch).status == DeliveryStatus.SKIPPED


def test_the_preference_centre_switches_it_on_and_the_dry_run_counts(readers, researcher, client):
    subscriber = readers["monthly"]
    url = reverse("subscribers:manage", args=[manage_token(subscriber.pk)])
    assert 'name="weekly"' in client.get(url).content.decode()
    form = {"name": "", "organisation": "", "provinces": [str(JIANGSU)], "themes": [], "scope": "whole"}
    client.post(url, {**form, "weekly": "on"})
    assert Subscriber.objects.get(pk=subscriber.pk).weekly

    ready_entry(researcher, regions=[JIANGSU])
    assert weekly_send(now=next_monday(), dry_run=True) == {readers["jiangsu"].pk: 1, subscriber.pk: 1}
    assert not Message.objects.exists()
    call_command("send_weekly", "--dry-run")


@pytest.mark.parametrize("readers_count", [1, 4])
def test_a_chunk_of_news_flashes_costs_the_same_queries_plus_one_mark_per_message(
    readers_count, researcher, smtp, django_assert_num_queries
):
    for n in range(readers_count):
        weekly_subscriber(f"r{n}@example.org", provinces=[JIANGSU], themes=["cross-province"])
    ready_entry(researcher, regions=[JIANGSU], themes=["cross-province"])
    ready_entry(researcher, regions=[JIANGSU])
    batch, made = weekly_send(now=next_monday())
    assert made == readers_count
    # the claim (savepoint, select, update, release), the batch, its messages, the kind's subscribers and
    # entries still ready (1) with their tags (4), one mark per message, and the look for rows still due.
    with django_assert_num_queries(CHUNK_QUERIES + readers_count):
        assert batch_send_chunk(batch_id=batch.pk).sent == readers_count


CHUNK_QUERIES = 13
