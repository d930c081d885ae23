"""The delivery pipeline end to end with the real parts: a Celery worker process on Redis (db 13), PostgreSQL,
and an SMTP server on loopback that records every message. 500 confirmed subscribers each time."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from dgd.celery import app as celery_app
from subscribers.models import Delivery, DeliveryStatus, Subscriber, SubscriberStatus
from subscribers.selectors import delivery_counts
from subscribers.tokens import manage_token
from tests.factories import UserFactory
from tests.subscribers.helpers import publish_sample
from tests.subscribers.smtp import SmtpServer

# One worker runs this module's tests (pytest-xdist's loadgroup): they share Redis database 11, which each flushes.
pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("redis-11")]

REDIS_URL = "redis://127.0.0.1:6379/11"  # this module's own database, flushed
SUBSCRIBERS = 500
CHUNK = 25
PROVINCES = [110000, 320000, 330000, 410000, 540000]
WORKER_ENV = {
    "SUBSCRIBERS_CHUNK_SIZE": str(CHUNK),
    "SUBSCRIBERS_RETRY_BACKOFF": "0.2",
    "SUBSCRIBERS_MAX_ATTEMPTS": "10",
    "SUBSCRIBERS_LEASE": "3",
    "SUBSCRIBERS_STALL": "2",
    "SUBSCRIBERS_FANOUT_GRACE": "2",
    "SUBSCRIBERS_CHECK_INTERVAL": "1",
}


def _use_broker(url):
    celery_app._pool = None  # kombu keeps one pool per broker URL: the next send picks the right one
    celery_app.amqp._producer_pool = None
    celery_app.conf.broker_url = url


@pytest.fixture
def broker():
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    before = celery_app.conf.broker_url, celery_app.conf.broker_transport_options
    celery_app.conf.broker_transport_options = {"visibility_timeout": 3600}
    _use_broker(REDIS_URL)
    yield client
    _use_broker(before[0])
    celery_app.conf.broker_transport_options = before[1]
    client.flushdb()


class Worker:
    """``celery -A dgd worker -B`` (two processes and the beat with its sweeper) in a session of its own."""

    def __init__(self, *, smtp_port, var_dir):
        db = connection.settings_dict
        assert connection.vendor == "postgresql", "the worker tests run on PostgreSQL"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            "REDIS_URL": REDIS_URL,
            "CELERY_BROKER_URL": REDIS_URL,
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
            "DGD_VAR_DIR": str(var_dir),
            **WORKER_ENV,
        }
        if db.get("PASSWORD"):
            self.env["PGPASSWORD"] = db["PASSWORD"]
        self.var_dir = var_dir
        self.proc = None
        self.runs = 0

    def start(self):
        self.runs += 1
        self.log = self.var_dir / f"worker-{self.runs}.log"
        celery = Path(sys.executable).with_name("celery")
        options = ["--concurrency", "2", "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        options += ["-Q", "celery,imports"]  # every queue, as scripts/run.sh and docker-compose.yml
        beat = ["-B", "-s", str(self.var_dir / "beat-schedule")]
        self.proc = subprocess.Popen(
            [str(celery), "-A", "dgd", "worker", *beat, *options, "-n", f"test{self.runs}@%h"],
            cwd=django_settings.BASE_DIR,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if " ready." in self.log.read_text():
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"the worker did not start:\n{self.log.read_text()[-3000:]}")

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)  # kill -9, the pool processes and the beat with it
        self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def run(broker, settings, tmp_path, request):
    """A recording SMTP server (``fail_every`` from the test's parameter), a worker on it, 500 confirmed
    subscribers with varied preferences (all take the whole issue) and 20 who never confirmed."""
    settings.SUBSCRIBERS_CHUNK_SIZE = CHUNK
    fail_every = getattr(request, "param", 0)
    with SmtpServer(fail_every=fail_every) as server:
        Subscriber.objects.bulk_create(
            [
                Subscriber(email=f"s{i:04d}@example.org", name=f"读者{i}", status=SubscriberStatus.CONFIRMED)
                for i in range(SUBSCRIBERS)
            ]
            + [Subscriber(email=f"p{i:03d}@example.org", status=SubscriberStatus.PENDING) for i in range(20)]
        )
        through = Subscriber.provinces.through
        confirmed = list(Subscriber.objects.confirmed().order_by("pk").values_list("pk", flat=True))
        through.objects.bulk_create(
            [through(subscriber_id=pk, region_id=PROVINCES[n % 6]) for n, pk in enumerate(confirmed) if n % 6 < 5]
        )
        worker = Worker(smtp_port=server.port, var_dir=tmp_path)
        try:
            yield server.recorder, worker.start()
        finally:
            worker.stop()


def wait_until_done(issue, worker, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = delivery_counts(issue_id=issue.pk)
        if counts["total"] and counts["pending"] == 0:
            return counts
        time.sleep(0.2)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, xact_start, left(query, 200) FROM pg_stat_activity WHERE datname = current_database()"
        )
        activity = cursor.fetchall()
    rows = list(Delivery.objects.exclude(status=DeliveryStatus.SENT).values("id", "status", "claims", "updated_at"))
    alive = worker.proc.poll() is None
    raise AssertionError(
        f"not done in {timeout} s: {delivery_counts(issue_id=issue.pk)} {activity} {rows[:5]} "
        f"worker alive: {alive}; its log ends:\n{worker.log.read_text()[-6000:]}"
    )


def digests_by_message_id(recorder):
    return Counter(message.headers["Message-ID"] for message in recorder.digests())


def expected_message_ids(issue):
    return {
        f"<dgd-issue{issue.pk}-sub{pk}@127.0.0.1>" for pk in Subscriber.objects.confirmed().values_list("pk", flat=True)
    }


def test_each_confirmed_subscriber_gets_exactly_one_digest_and_a_leaver_nothing_after(run):
    recorder, worker = run
    leaver = Subscriber.objects.confirmed().order_by("-pk").first()  # among the last to be claimed
    issue = publish_sample(UserFactory(role="chief_editor"))
    recorder.wait_for(lambda: recorder.digest_count() >= 50, timeout=30)

    response = Client(enforce_csrf_checks=True).post(
        reverse("subscribers:unsubscribe", args=[manage_token(leaver.pk)]),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    left_at = time.time()
    assert response.status_code == 200

    counts = wait_until_done(issue, worker)
    assert [m for m in recorder.to(leaver.email) if m.at > left_at] == []
    assert Delivery.objects.get(issue=issue, subscriber=leaver).status == DeliveryStatus.SKIPPED
    assert counts == {"total": SUBSCRIBERS, "sent": SUBSCRIBERS - 1, "failed": 0, "pending": 0, "skipped": 1}
    received = digests_by_message_id(recorder)
    assert set(received) == expected_message_ids(issue)  # the leaver is no longer confirmed
    assert set(received.values()) == {1}
    assert not any(m.rcpt[0].startswith("p") for m in recorder.messages)  # never confirmed: nothing


def test_a_killed_worker_loses_nobody_and_repeats_at_most_what_was_in_flight(run):
    recorder, worker = run
    issue = publish_sample(UserFactory(role="chief_editor"))
    sending = Delivery.objects.filter(issue=issue, status=DeliveryStatus.SENDING)
    # Kill in mid-chunk: past 150 messages, with rows claimed and not yet marked.
    recorder.wait_for(lambda: recorder.digest_count() >= 150 and sending.exists(), timeout=30)
    worker.kill()
    held = sending.count()
    assert 0 < held <= 2 * CHUNK
    assert recorder.digest_count() < SUBSCRIBERS  # killed in mid-run
    # Every digest the server accepted is recorded, but for at most the one each killed process was sending (the
    # workflow's notices to the issue's editors go through the same server: not counted).
    recorded = Delivery.objects.filter(issue=issue, status=DeliveryStatus.SENT).count()
    digests = recorder.digest_count()
    assert digests - 2 <= recorded <= digests

    worker.start()
    counts = wait_until_done(issue, worker)
    assert counts == {"total": SUBSCRIBERS, "sent": SUBSCRIBERS, "failed": 0, "pending": 0, "skipped": 0}
    received = digests_by_message_id(recorder)
    assert set(received) == expected_message_ids(issue)  # nobody is missing
    duplicates = sum(n - 1 for n in received.values())
    assert duplicates <= 2  # the message in flight in each of the two pool processes, at most
    assert sum(Delivery.objects.filter(issue=issue).values_list("claims", flat=True)) >= SUBSCRIBERS + held


@pytest.mark.parametrize("run", [10], indirect=True)
def test_with_451_to_one_message_in_ten_every_message_still_arrives(run):
    recorder, worker = run
    issue = publish_sample(UserFactory(role="chief_editor"))
    counts = wait_until_done(issue, worker)
    assert counts == {"total": SUBSCRIBERS, "sent": SUBSCRIBERS, "failed": 0, "pending": 0, "skipped": 0}
    assert recorder.refused >= SUBSCRIBERS // 10
    received = digests_by_message_id(recorder)
    assert set(received) == expected_message_ids(issue)
    assert set(received.values()) == {1}
    extra_attempts = sum(d.attempts - 1 for d in Delivery.objects.filter(issue=issue))
    assert extra_attempts >= recorder.refused  # each refusal was retried
