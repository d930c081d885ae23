"""kill -9 of a worker during an alert run: the run after it sends what was left and repeats at most the
message that was in flight. The worker is a real process (``manage.py send_alerts``) on the test database,
killed while it talks to a slow SMTP server on loopback."""

import asyncio
import datetime
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from alerts.models import AlertMail
from alerts.services import alerts_send
from policies.models import Status
from policies.services import entry_mark_ready
from tests.alerts.conftest import JIANGSU, saved_alert
from tests.factories import EntryFactory, UserFactory
from tests.subscribers.smtp import Recorder, SmtpServer

pytestmark = pytest.mark.django_db(transaction=True)

ALERTS = 12
LEASE = 3


class SlowRecorder(Recorder):
    """Takes half a second per message, so the worker can be killed in the middle of a run."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.5)
        return await super().handle_DATA(server, session, envelope)


def database_url():
    db = django_settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def test_a_worker_killed_mid_run_repeats_at_most_the_message_in_flight(settings, researcher):
    owners = [UserFactory(role="sales") for _ in range(ALERTS)]
    for owner in owners:
        saved_alert(owner, "江苏", region=JIANGSU)
    entry_mark_ready(entries=[EntryFactory(status=Status.DRAFT, regions=[JIANGSU])], by=researcher)

    server = SmtpServer()
    server.recorder = SlowRecorder()
    server.controller.handler = server.recorder
    with server:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "EMAIL_URL": f"smtp://127.0.0.1:{server.port}",
            "ALERTS_LEASE": str(LEASE),
        }
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "send_alerts", "--frequency", "instant"],
            cwd=django_settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            server.recorder.wait_for(lambda: server.recorder.count() >= 3, timeout=120)
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
        killed_after = server.recorder.count()
        assert killed_after < ALERTS, "the worker finished before it was killed: nothing was tested"

        server.use_in(settings)
        time.sleep(0.2)
        report = alerts_send(frequency="instant", now=timezone.now() + datetime.timedelta(seconds=LEASE + 1))
        again = alerts_send(frequency="instant", now=timezone.now() + datetime.timedelta(seconds=LEASE + 60))

    received = Counter(message.rcpt[0] for message in server.recorder.messages)
    assert set(received) == {owner.email for owner in owners}  # nobody lost
    assert sum(received.values()) - ALERTS <= 1  # at most the message in flight twice
    assert report.sent >= ALERTS - killed_after and again.sent == 0
    assert AlertMail.objects.filter(sent_at=None).count() == 0
    assert AlertMail.objects.count() == ALERTS  # one recorded mail per alert, whatever was repeated
