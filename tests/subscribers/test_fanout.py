"""The fan-out's safety nets, run in-process (test_worker.py and test_drill.py run real workers): publishing never
loses its fan-out, the periodic check, a message recorded the moment it is accepted, leases, and the chief
editor's confirmation and live progress."""

import re
import uuid
from datetime import timedelta

import psycopg
import pytest
from django.core.mail import get_connection
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dgd.celery import app as celery_app
from issues.models import IssueStatus
from issues.services import issue_import_newsletter
from issues.workflow import issue_approve, issue_publish, issue_submit
from subscribers import services
from subscribers.digests import NAME, NAME_HTML, RenderedGroup, personalise_raw, personalise_wire
from subscribers.models import Delivery, DeliveryStatus, Fanout, Scope, SubscriberStatus
from subscribers.selectors import delivery_counts
from tests.conftest import SAMPLE
from tests.factories import UserFactory
from tests.subscribers.helpers import make_subscriber, publish_sample
from tests.subscribers.smtp import Recorder, SmtpServer, free_port

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def audience():
    """Three who get the issue, one whose preferences select nothing in it, two who are not confirmed."""
    return [
        make_subscriber("a@example.org"),
        make_subscriber("b@example.org", provinces=[320000]),
        make_subscriber("c@example.org", scope=Scope.MATCHING, provinces=[110000]),
        make_subscriber("tibet@example.org", scope=Scope.MATCHING, provinces=[540000]),
        make_subscriber("pending@example.org", status=SubscriberStatus.PENDING),
        make_subscriber("gone@example.org", status=SubscriberStatus.UNSUBSCRIBED),
    ]


def _use_broker(url):
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app.conf.broker_url = url


@pytest.fixture
def broker_down():
    """Celery's broker is a port nothing listens on: queueing a task fails."""
    before = celery_app.conf.broker_url, celery_app.conf.broker_transport_options
    celery_app.conf.broker_transport_options = {"max_retries": 1, "interval_start": 0, "interval_step": 0}
    _use_broker(f"redis://127.0.0.1:{free_port()}/0")
    yield
    celery_app.conf.broker_transport_options = before[1]
    _use_broker(before[0])


def approved_sample(chief):
    with open(SAMPLE, "rb") as f:
        issue = issue_import_newsletter(data=f.read(), source_name="dgd-2022-08-zhengwu.txt", draft=True).issue
    issue_submit(issue=issue, by=UserFactory(role="researcher"))  # a chief editor approves what another submitted
    issue_approve(issue=issue, by=chief)
    return issue


def later(seconds):
    return timezone.now() + timedelta(seconds=seconds)


EMPTY_REPORT = {"fanned_out": 0, "released": 0, "failed": 0, "woken": 0}


# --- Publishing never loses its fan-out ------------------------------------------------------------------


def test_with_the_broker_down_publishing_succeeds_and_the_check_fans_out_later(
    client, chief_editor, audience, smtp, settings, broker_down, django_capture_on_commit_callbacks
):
    issue = approved_sample(chief_editor)
    client.force_login(chief_editor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:issues_issue_workflow", args=[issue.pk, "publish"]))
    assert response.status_code == 302  # not a 500: the editor's request never fails over the fan-out
    issue.refresh_from_db()
    assert issue.status == IssueStatus.PUBLISHED
    assert not Delivery.objects.filter(issue=issue).exists()

    assert services.deliveries_check() == EMPTY_REPORT  # its fan-out task may still come
    celery_app.conf.task_always_eager = celery_app.conf.task_eager_propagates = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            report = services.deliveries_check(now=later(settings.SUBSCRIBERS_FANOUT_GRACE + 1))
    finally:
        celery_app.conf.task_always_eager = celery_app.conf.task_eager_propagates = False
    assert report == {**EMPTY_REPORT, "fanned_out": 1}
    assert delivery_counts(issue_id=issue.pk) == {"total": 4, "sent": 3, "failed": 0, "pending": 0, "skipped": 1}
    assert sorted(m.rcpt[0] for m in smtp.digests()) == ["a@example.org", "b@example.org", "c@example.org"]
    assert services.deliveries_check(now=later(settings.SUBSCRIBERS_FANOUT_GRACE + 1)) == EMPTY_REPORT


def test_the_fan_out_task_creates_the_deliveries_once(
    audience, chief_editor, smtp, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        issue = publish_sample(chief_editor)  # publication → fan-out task → chunk tasks, all in-process here
    fanout = Fanout.objects.get(issue=issue)
    assert fanout.deliveries_created_at is not None and fanout.recipients == 4
    make_subscriber("late@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_create_for_issue(issue_id=issue.pk) == 0  # a repeated task: nothing new
    assert Delivery.objects.filter(issue=issue).count() == 4
    assert len(smtp.digests()) == 3


def test_an_archive_import_is_never_fanned_out_by_the_check(audience, settings):
    with open(SAMPLE, "rb") as f:
        issue = issue_import_newsletter(data=f.read(), source_name="dgd-2022-08-zhengwu.txt").issue
    assert issue.status == IssueStatus.PUBLISHED  # published without the workflow: nobody is to be notified
    assert services.deliveries_check(now=later(settings.SUBSCRIBERS_FANOUT_GRACE + 1)) == EMPTY_REPORT
    assert not Delivery.objects.exists()


# --- The periodic check ------------------------------------------------------------------------------------


def test_the_check_queues_tasks_again_for_due_rows_whose_tasks_were_lost(
    audience, chief_editor, smtp, settings, eager_celery, django_capture_on_commit_callbacks
):
    issue = publish_sample(chief_editor)
    with django_capture_on_commit_callbacks(execute=False):  # the chunk tasks are never queued: "Redis emptied"
        services.deliveries_create_for_issue(issue_id=issue.pk)
    assert services.deliveries_check() == EMPTY_REPORT  # just created: their tasks may be on their way
    assert services.deliveries_check(now=later(settings.SUBSCRIBERS_STALL - 1)) == EMPTY_REPORT

    with django_capture_on_commit_callbacks(execute=True):
        report = services.deliveries_check(now=later(settings.SUBSCRIBERS_STALL + 1))
    assert report == {**EMPTY_REPORT, "woken": 1}
    assert delivery_counts(issue_id=issue.pk) == {"total": 4, "sent": 3, "failed": 0, "pending": 0, "skipped": 1}
    assert len(smtp.digests()) == 3
    assert services.deliveries_check(now=later(settings.SUBSCRIBERS_STALL + 1)) == EMPTY_REPORT


def test_the_check_puts_back_rows_whose_lease_ran_out_and_fails_a_row_that_keeps_killing_senders(
    audience, chief_editor, settings
):
    issue = publish_sample(chief_editor)
    services.deliveries_create_for_issue(issue_id=issue.pk)
    rows = list(Delivery.objects.filter(issue=issue).order_by("pk"))
    past, future = later(-1), later(settings.SUBSCRIBERS_LEASE)
    Delivery.objects.filter(pk__in=[r.pk for r in rows]).update(
        status=DeliveryStatus.SENDING, claim=uuid.uuid4(), claims=1, lease_until=past
    )
    Delivery.objects.filter(pk=rows[1].pk).update(lease_until=future)  # a live sender holds this one
    Delivery.objects.filter(pk=rows[2].pk).update(claims=2 * settings.SUBSCRIBERS_MAX_ATTEMPTS)  # a poison row

    assert services.deliveries_check(dry_run=True) == {**EMPTY_REPORT, "released": 2, "failed": 1}
    assert services.deliveries_check() == {**EMPTY_REPORT, "released": 2, "failed": 1}
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert [statuses[r.pk] for r in rows] == ["pending", "sending", "failed", "pending"]
    assert Delivery.objects.get(pk=rows[0].pk).claim is None


# --- A chunk: per-message marks, leases, a database that restarts ------------------------------------------


class Watching(Recorder):
    """A recorder that, as each message arrives, looks in the database through a connection of its own and may
    act on it (``on_message(n, conn)``)."""

    def __init__(self, on_message=None):
        super().__init__()
        db = connection.settings_dict
        self.conninfo = {
            "host": db["HOST"] or "127.0.0.1",
            "port": db["PORT"] or 5432,
            "user": db["USER"],
            "password": db["PASSWORD"] or None,
            "dbname": db["NAME"],
        }
        self.sent_before = []
        self.on_message = on_message

    async def handle_DATA(self, server, session, envelope):
        with psycopg.connect(**self.conninfo, autocommit=True) as conn:
            sql = "SELECT count(*) FROM subscribers_delivery WHERE status = 'sent'"
            self.sent_before.append(conn.execute(sql).fetchone()[0])
            if self.on_message:
                self.on_message(len(self.sent_before), conn)
        return await super().handle_DATA(server, session, envelope)


def watched_server(settings, watcher):
    server = SmtpServer()
    server.recorder = server.controller.handler = watcher
    server.use_in(settings)
    return server


def five_subscribers_and_a_publication(chief):
    for n in range(5):
        make_subscriber(f"r{n}@example.org")
    issue = publish_sample(chief)
    services.deliveries_create_for_issue(issue_id=issue.pk)
    return issue


@pytest.mark.django_db(transaction=True)
def test_each_message_is_recorded_the_moment_the_server_accepts_it_through_a_database_restart(chief_editor, settings):
    issue = five_subscribers_and_a_publication(chief_editor)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]

    def cut_the_connection(n, conn):
        if n == 3:  # the sender's database connection dies while the third message is being accepted
            conn.execute("SELECT pg_terminate_backend(%s)", [pid])

    watcher = Watching(on_message=cut_the_connection)
    with watched_server(settings, watcher):
        result = services.deliveries_send_chunk(issue_id=issue.pk)
    assert result.sent == 5
    assert watcher.sent_before == [0, 1, 2, 3, 4]  # every earlier message already recorded as sent
    assert delivery_counts(issue_id=issue.pk)["sent"] == 5
    assert sorted(m.rcpt[0] for m in watcher.messages) == [f"r{n}@example.org" for n in range(5)]


@pytest.mark.django_db(transaction=True)
def test_a_sender_whose_lease_another_took_over_leaves_that_row_alone(chief_editor, settings):
    settings.SUBSCRIBERS_LEASE = 0  # renewed before every message: the take-over is seen at once
    issue = five_subscribers_and_a_publication(chief_editor)
    third = Delivery.objects.filter(issue=issue).order_by("pk")[2]
    other = uuid.uuid4()

    def take_over(n, conn):
        if n == 1:  # meanwhile the lease ran out and another sender claimed the third row
            conn.execute("UPDATE subscribers_delivery SET claim = %s WHERE id = %s", [other, third.pk])

    watcher = Watching(on_message=take_over)
    with watched_server(settings, watcher):
        result = services.deliveries_send_chunk(issue_id=issue.pk)
    assert (result.sent, result.lost) == (4, 1)
    assert third.subscriber.email not in [m.rcpt[0] for m in watcher.messages]
    third.refresh_from_db()
    assert (third.status, third.claim) == (DeliveryStatus.SENDING, other)


def test_a_chunk_costs_the_same_queries_whatever_its_size(chief_editor, settings):
    """Pinned: claim (savepoint, select, update, release), issue, revision, deliveries + provinces + themes, the
    last look, synchronous_commit off and reset, the successor's check — and the regions the digest names when
    it is rendered (the second chunk finds it in the per-process cache). The marks, one per message, are
    pipelined beside them (the test above: each is in before the next message goes)."""
    for n in range(6):
        make_subscriber(f"q{n}@example.org")
    issue = publish_sample(chief_editor)
    services.deliveries_create_for_issue(issue_id=issue.pk)
    counts = []
    with SmtpServer() as server:
        server.use_in(settings)
        for limit in (2, 4):
            with CaptureQueriesContext(connection) as queries:
                assert services.deliveries_send_chunk(issue_id=issue.pk, limit=limit).sent == limit
            counts.append(len(queries))
    assert counts == [14, 13]
    assert delivery_counts(issue_id=issue.pk)["sent"] == 6
    assert server.recorder.count() == 6


# --- The chief editor's confirmation and the live progress -----------------------------------------------


def confirm_url(issue, action):
    return reverse("admin:subscribers_delivery_confirm_publication", args=[issue.pk, action])


def test_publish_now_asks_first_and_says_how_many_will_be_mailed(
    client, chief_editor, audience, eager_celery, smtp, django_capture_on_commit_callbacks
):
    issue = approved_sample(chief_editor)
    client.force_login(chief_editor)
    page = client.get(reverse("admin:issues_issue_change", args=[issue.pk])).content.decode()
    assert f'action="{confirm_url(issue, "publish")}"' in page  # the button leads to the confirmation

    response = client.get(confirm_url(issue, "publish"))
    assert response.status_code == 200
    assert response.context["preview"] == {"confirmed": 4, "recipients": 3, "nothing": 1}
    page = response.content.decode()
    assert 'id="publication-recipients"' in page and 'id="publication-nothing"' in page
    issue.refresh_from_db()
    assert issue.status == IssueStatus.APPROVED  # looking publishes nothing

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:issues_issue_workflow", args=[issue.pk, "publish"]), follow=True)
    issue.refresh_from_db()
    assert issue.status == IssueStatus.PUBLISHED
    page = response.content.decode()
    assert 'id="delivery-progress"' in page
    assert reverse("admin:subscribers_delivery_report", args=[issue.pk]) in page
    progress = client.get(reverse("admin:subscribers_delivery_progress", args=[issue.pk])).json()
    assert progress == {"total": 4, "sent": 3, "failed": 0, "pending": 0, "skipped": 1, "fanout_done": True}


def test_schedule_asks_first_too_and_only_who_may_publish_is_asked(client, chief_editor, researcher, audience):
    issue = approved_sample(chief_editor)
    client.force_login(researcher)
    assert client.get(confirm_url(issue, "publish")).status_code == 403
    assert client.get(reverse("admin:subscribers_delivery_progress", args=[issue.pk])).status_code == 403

    client.force_login(chief_editor)
    assert client.get(confirm_url(issue, "delete")).status_code == 404
    response = client.get(confirm_url(issue, "schedule"), {"publish_at": "2031-08-01T09:30"})
    assert response.status_code == 200
    assert response.context["preview"] == {"confirmed": 4, "recipients": 3, "nothing": 1}
    page = response.content.decode()
    assert 'name="publish_at" value="2031-08-01T09:30"' in page
    assert reverse("admin:issues_issue_workflow", args=[issue.pk, "schedule"]) in page

    issue_publish(issue=issue, by=chief_editor)
    response = client.get(confirm_url(issue, "publish"), follow=True)
    assert response.redirect_chain == [(reverse("admin:issues_issue_change", args=[issue.pk]), 302)]
    assert [m.level_tag for m in response.context["messages"]] == ["error"]  # already published


# --- The message on the wire ---------------------------------------------------------------------------------


def unstuffed(wire):
    return re.sub(rb"(?m)^\.\.", b".", wire)


def same_but_date(a, b):
    date = re.compile(rb"^Date: .*$", re.MULTILINE)
    return date.sub(b"Date: -", a) == date.sub(b"Date: -", b)


@pytest.mark.parametrize("name", ["王芳", ".点"])  # the name starts a line: a leading period is stuffed
def test_the_dot_stuffed_message_is_the_message(name, settings):
    rendered = RenderedGroup(
        subject="第4期",
        text=f"{NAME}，您好\n.\n..两个点\n.一个点\n正文\n",
        html=f"<p>{NAME_HTML}</p>\n.<b>x</b>\n",
    )
    personal = {"subscriber_id": 7, "email": "w@example.org", "name": name, "issue_id": 3}
    wire = personalise_wire(rendered, **personal)
    assert b"\r\n.\r\n" not in wire  # a lone period would end the DATA
    assert same_but_date(unstuffed(wire), personalise_raw(rendered, **personal))

    with SmtpServer() as server:
        server.use_in(settings)
        connection = get_connection()
        connection.open()
        services._sendmail_wire(connection.connection, "dgd@localhost", "w@example.org", wire)
        connection.close()
    [received] = server.recorder.messages
    assert same_but_date(received.content, personalise_raw(rendered, **personal))  # the server unstuffed it
