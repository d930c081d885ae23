"""The alert run: every saved filter an entry matches, and no other, is told once; mails reach a real SMTP
server with the unsubscribe headers; the daily and weekly schedules; a crashed run repeats at most one mail."""

import datetime
import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.models import Alert, AlertMail, AlertMailEntry, Frequency
from alerts.schedule import TIME_ZONE
from alerts.selectors import saved_filter_criteria
from alerts.services import alert_claim, alerts_send
from library.models import SavedFilter
from policies.models import Entry, Status
from policies.services import entry_mark_draft, entry_mark_ready
from tests.alerts.conftest import JIANGSU, ZHEJIANG, later, ready_entry, saved_alert
from tests.factories import EntryFactory, UserFactory

pytestmark = pytest.mark.django_db


def entry_ids(received):
    """The entry ids a received alert mail links to."""
    return {int(pk) for pk in re.findall(r"/library/entry/(\d+)/", received.part("text/plain"))}


@pytest.fixture
def owners(db):
    return [UserFactory(role="sales") for _ in range(6)]


def test_an_entry_marked_ready_reaches_every_matching_instant_alert_and_no_other(owners, researcher, smtp):
    a, b, c, d, e, f = owners
    saved_alert(a, "江苏", region=JIANGSU)
    saved_alert(b, "江苏跨省通办", region=JIANGSU, theme="cross-province")
    saved_alert(c, "浙江", region=ZHEJIANG)
    saved_alert(d, "江苏实践", region=JIANGSU, kind="practice")
    saved_alert(e, "江苏每日", "daily", region=JIANGSU)
    saved_alert(f, "关键词", q="跨省通办")
    entry = ready_entry(researcher, regions=[JIANGSU], themes=["cross-province"])

    report = alerts_send(frequency="instant", now=later())

    assert report.sent == 3
    assert {m.rcpt[0] for m in smtp.messages} == {a.email, b.email, f.email}
    assert all(entry_ids(m) == {entry.pk} for m in smtp.messages)


def test_a_second_run_sends_nothing(salesperson, researcher, smtp):
    saved_alert(salesperson, "江苏", region=JIANGSU)
    ready_entry(researcher, regions=[JIANGSU])
    assert alerts_send(frequency="instant", now=later()).sent == 1
    assert alerts_send(frequency="instant", now=later(2)).sent == 0
    assert smtp.count() == 1
    assert AlertMail.objects.get().sent_at is not None


def test_an_edit_or_a_new_ready_state_of_an_alerted_entry_does_not_alert_again(salesperson, researcher, smtp):
    saved_alert(salesperson, "江苏", region=JIANGSU)
    entry = ready_entry(researcher, regions=[JIANGSU])
    ready_at = entry.ready_at
    assert alerts_send(frequency="instant", now=later()).sent == 1

    entry.title = "关于推进政务服务跨省通办的通知（修订）"
    entry.save()
    entry = Entry.objects.get(pk=entry.pk)
    assert entry.ready_at == ready_at  # kept through edits
    assert alerts_send(frequency="instant", now=later(2)).sent == 0

    entry_mark_draft(entries=[entry], by=researcher)
    entry.refresh_from_db()
    assert entry.ready_at is None
    entry_mark_ready(entries=[entry], by=researcher)
    entry.refresh_from_db()
    assert entry.ready_at > ready_at  # ready again: a new time, but this alert told its owner already
    assert alerts_send(frequency="instant", now=later(3)).sent == 0
    assert smtp.count() == 1


def test_a_back_dated_entry_still_alerts(salesperson, researcher, smtp):
    saved_alert(salesperson, "江苏", region=JIANGSU)
    entry = ready_entry(researcher, regions=[JIANGSU], published_on=datetime.date(2015, 3, 1))
    assert alerts_send(frequency="instant", now=later()).sent == 1
    assert entry_ids(smtp.messages[0]) == {entry.pk}
    assert "2015-03-01" in smtp.messages[0].part("text/plain")


def test_nothing_ready_before_the_alert_was_switched_on_is_announced(salesperson, researcher, smtp):
    ready_entry(researcher, regions=[JIANGSU])
    saved_alert(salesperson, "江苏", region=JIANGSU, now=later())
    assert alerts_send(frequency="instant", now=later(2)).sent == 0
    assert smtp.count() == 0


def test_the_mail_lists_the_entry_with_its_tags_and_carries_the_unsubscribe_headers(salesperson, researcher, smtp):
    saved = saved_alert(salesperson, "江苏 <跨省>", region=JIANGSU)
    entry = ready_entry(
        researcher,
        regions=[JIANGSU],
        themes=["cross-province"],
        title="关于<b>跨省通办</b>的通知",
        summary="**重点**：推进高频事项跨省通办 & 异地办理。",
    )
    alerts_send(frequency="instant", now=later())
    (received,) = smtp.messages
    headers = received.headers
    assert "江苏 <跨省>" in headers["Subject"] and "1" in headers["Subject"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(r"<(https?://[^>]+)>", "".join(str(headers["List-Unsubscribe"]).split()))[1]
    assert "/alerts/unsubscribe/" in unsubscribe
    assert headers["Message-ID"].startswith(f"<dgd-alert{saved.pk}-mail")
    text, html = received.part("text/plain"), received.part("text/html")
    assert "【江苏】" in text and "跨省通办" in text and "江苏省人民政府办公厅" in text
    assert "重点：推进高频事项跨省通办 & 异地办理。" in text  # plain text: nothing escaped, ** dropped
    assert f"/library/entry/{entry.pk}/" in text
    assert "&lt;b&gt;跨省通办&lt;/b&gt;" in html and "<b>跨省通办</b>" not in html  # escaped in HTML
    assert "异地办理" in html and "&amp; 异地办理" in html

    # The unsubscribe link is a one-click POST (RFC 8058): no session, no CSRF token.
    from django.test import Client

    path = unsubscribe.split("://", 1)[1].split("/", 1)[1]
    client = Client(enforce_csrf_checks=True)
    assert client.get(f"/{path}").status_code == 200
    assert Alert.objects.get(pk=saved.pk).frequency == Frequency.INSTANT  # a GET (a link scanner) changes nothing
    assert client.post(f"/{path}", {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert Alert.objects.get(pk=saved.pk).frequency == Frequency.OFF
    assert client.post(f"/{path[:-3]}xx/").status_code == 404


def test_a_mail_lists_fifty_entries_and_links_to_the_full_list(salesperson, researcher, smtp, client):
    saved_alert(salesperson, "江苏", region=JIANGSU)
    entries = [EntryFactory(status=Status.DRAFT, regions=[JIANGSU]) for _ in range(55)]
    entry_mark_ready(entries=entries, by=researcher)
    alerts_send(frequency="instant", now=later())
    (received,) = smtp.messages
    assert len(entry_ids(received)) == 50
    mail = AlertMail.objects.get()
    assert mail.entry_count == 55 and AlertMailEntry.objects.filter(mail=mail).count() == 55
    full = re.search(r"https?://\S+/alerts/mail/(\d+)/", received.part("text/plain"))
    assert int(full[1]) == mail.pk
    client.force_login(salesperson)
    page = client.get(f"/alerts/mail/{mail.pk}/").content.decode()
    assert all(f"/library/entry/{entry.pk}/" in page for entry in entries)
    client.force_login(UserFactory(role="sales"))
    assert client.get(f"/alerts/mail/{mail.pk}/").status_code == 404  # another user's mail


# Step 1 in a savepoint (2): lock the alert with its filter and owner, look for a pending mail (2), the window's
# rows and what was sent of them (2), move the window, record the mail and its entries (3); step 2: the mail's
# entries with their regions, themes and issues (5); step 3: mark it sent (1). Reading the saved filter as the
# page does costs nothing more once the library's vocabulary is cached (the first alert of a process reads it).
PER_ALERT_QUERIES = 15
# A later alert of the same run listing entries an earlier mail listed reads only its mail's entry ids: the run
# keeps the entries it read (the four queries of the entries with their tags, once per run, not per mail).
LATER_ALERT_QUERIES = PER_ALERT_QUERIES - 4
RUN_QUERIES = 2  # the due alerts, and the mails left pending by an earlier run


@pytest.mark.parametrize(("alerts", "entries"), [(1, 1), (4, 30)])
def test_query_count_per_alert_is_pinned(researcher, smtp, alerts, entries):
    """Each alert costs the same few queries whatever the number of alerts or entries."""
    for n in range(alerts):
        saved_alert(UserFactory(role="sales"), f"江苏{n}", region=JIANGSU, theme="cross-province")
    drafts = [EntryFactory(status=Status.DRAFT, regions=[JIANGSU], themes=["cross-province"]) for _ in range(entries)]
    entry_mark_ready(entries=drafts, by=researcher)
    saved_filter_criteria(SavedFilter.objects.first())  # the library's vocabulary cached, as after a first alert
    with CaptureQueriesContext(connection) as run:
        report = alerts_send(frequency="instant", now=later())
    assert report.sent == alerts
    expected = RUN_QUERIES + PER_ALERT_QUERIES + (alerts - 1) * LATER_ALERT_QUERIES
    assert len(run) == expected, [q["sql"][:150] for q in run.captured_queries]


def test_a_mail_left_in_flight_by_a_dead_run_is_sent_again_once(salesperson, researcher, smtp, settings):
    settings.ALERTS_LEASE = 60
    saved_alert(salesperson, "江苏", region=JIANGSU)
    ready_entry(researcher, regions=[JIANGSU])
    now = later()
    claimed = alert_claim(Alert.objects.get().pk, now=now)  # step 1 done, then the worker died
    assert isinstance(claimed, AlertMail) and claimed.sent_at is None
    assert alerts_send(frequency="instant", now=now + datetime.timedelta(seconds=30)).sent == 0  # still leased
    assert alerts_send(frequency="instant", now=now + datetime.timedelta(seconds=61)).sent == 1
    assert alerts_send(frequency="instant", now=now + datetime.timedelta(seconds=120)).sent == 0
    (received,) = smtp.messages
    assert received.headers["Message-ID"] == f"<dgd-alert{claimed.alert_id}-mail{claimed.pk}@127.0.0.1>"
    assert AlertMail.objects.get().sent_at is not None


def test_a_refused_mail_is_tried_again_later(salesperson, researcher, settings):
    from tests.subscribers.smtp import SmtpServer

    saved_alert(salesperson, "江苏", region=JIANGSU)
    ready_entry(researcher, regions=[JIANGSU])
    with SmtpServer(fail_every=1, fail_reply="451 4.3.0 Try again later") as busy:
        busy.use_in(settings)
        report = alerts_send(frequency="instant", now=later())
    assert report.failed == 1 and AlertMail.objects.get().sent_at is None
    with SmtpServer() as server:
        server.use_in(settings)
        assert alerts_send(frequency="instant", now=later(60)).sent == 1
        assert len(server.recorder.messages) == 1
    assert AlertMail.objects.get().attempts == 2


def test_a_mail_refused_for_good_is_given_up(salesperson, researcher, settings):
    """The engine's rule (mailings.transport): a 5xx is not worth retrying; the alert's next mail goes on."""
    from tests.subscribers.smtp import SmtpServer

    saved_alert(salesperson, "江苏", region=JIANGSU)
    ready_entry(researcher, regions=[JIANGSU])
    with SmtpServer(fail_every=1, fail_reply="550 5.1.1 No such user") as refusing:
        refusing.use_in(settings)
        assert alerts_send(frequency="instant", now=later()).failed == 1
    with SmtpServer() as server:
        server.use_in(settings)
        assert alerts_send(frequency="instant", now=later(60)).sent == 0
        assert server.recorder.messages == []
    mail = AlertMail.objects.get()
    assert mail.sent_at is None and mail.attempts == settings.ALERTS_MAX_ATTEMPTS


def _shanghai(*args):
    return datetime.datetime(*args, tzinfo=TIME_ZONE)


def test_daily_alerts_go_at_eight_and_once_a_day(salesperson, researcher, smtp):
    saved_alert(salesperson, "江苏每日", "daily", region=JIANGSU, now=_shanghai(2026, 11, 29, 12))
    entry = EntryFactory(status=Status.DRAFT, regions=[JIANGSU])
    entry_mark_ready(entries=[entry], by=researcher)
    Entry.objects.filter(pk=entry.pk).update(ready_at=_shanghai(2026, 11, 29, 18))
    assert alerts_send(frequency="daily", now=_shanghai(2026, 11, 30, 7, 59)).sent == 0  # before the slot
    assert alerts_send(frequency="daily", now=_shanghai(2026, 11, 30, 8, 0, 5)).sent == 1
    assert alerts_send(frequency="daily", now=_shanghai(2026, 11, 30, 10)).sent == 0  # the same slot again
    assert alerts_send(frequency="instant", now=_shanghai(2026, 11, 30, 10)).sent == 0  # not an instant alert
    assert entry_ids(smtp.messages[0]) == {entry.pk}


def test_weekly_alerts_go_on_monday(salesperson, researcher, smtp):
    saved_alert(salesperson, "江苏每周", "weekly", region=JIANGSU, now=_shanghai(2026, 11, 24, 12))  # a Tuesday
    entry = EntryFactory(status=Status.DRAFT, regions=[JIANGSU])
    entry_mark_ready(entries=[entry], by=researcher)
    Entry.objects.filter(pk=entry.pk).update(ready_at=_shanghai(2026, 11, 25, 9))
    assert alerts_send(frequency="weekly", now=_shanghai(2026, 11, 29, 9)).sent == 0  # Sunday
    assert alerts_send(frequency="weekly", now=_shanghai(2026, 11, 30, 8, 1)).sent == 1  # Monday
    assert alerts_send(frequency="weekly", now=_shanghai(2026, 12, 1, 8, 1)).sent == 0


def test_an_owner_who_may_no_longer_read_the_library_gets_no_alert(salesperson, researcher, smtp):
    saved_alert(salesperson, "江苏", region=JIANGSU)
    salesperson.groups.clear()
    ready_entry(researcher, regions=[JIANGSU])
    assert alerts_send(frequency="instant", now=later()).sent == 0


def test_send_alerts_dry_run_prints_counts_and_sends_nothing(salesperson, researcher, smtp, capsys):
    saved = saved_alert(salesperson, "江苏", region=JIANGSU)
    saved_alert(salesperson, "浙江", region=ZHEJIANG)
    ready_entry(researcher, regions=[JIANGSU])
    ready_entry(researcher, regions=[JIANGSU])
    call_command("send_alerts", "--frequency", "instant", "--dry-run")
    out = capsys.readouterr().out
    assert f"instant alert {saved.pk} «江苏»: 2 entries" in out
    assert "«浙江»: 0 entries" in out
    assert smtp.count() == 0 and not AlertMail.objects.exists()
    assert Alert.objects.get(pk=saved.pk).checked_until < timezone.now()
    call_command("send_alerts", "--frequency", "instant")
    assert "instant: 1 mails sent" in capsys.readouterr().out
    assert smtp.count() == 1


def test_the_beat_schedule_runs_every_frequency():
    from celery.schedules import crontab

    from dgd.celery import app

    schedule = {entry["args"][0]: entry for entry in app.conf.beat_schedule.values() if "alerts" in entry["task"]}
    assert set(schedule) == {"instant", "daily", "weekly"}
    assert schedule["instant"]["schedule"] <= 15 * 60
    assert schedule["daily"]["schedule"] == crontab(minute=0, hour=8)
    assert schedule["weekly"]["schedule"] == crontab(minute=0, hour=8, day_of_week="mon")
