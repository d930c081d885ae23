"""The generic delivery engine: a new kind of mail is a template trio and a recipients function, and is
delivered exactly once through a real SMTP server; a message whose sender died is put back by the check and
sent once."""

import copy
from datetime import timedelta

import pytest
from django.utils import timezone

from mailings.kinds import Kind, Outgoing, Recipient, register, unregister
from mailings.models import DeliveryStatus, Message
from mailings.services import batch_open, batch_send_chunk, messages_check, messages_claim
from tests.subscribers.smtp import SmtpServer

pytestmark = [pytest.mark.django_db]

ADDRESSES = ["li@example.org", "zhao@example.org"]


@pytest.fixture
def smtp(settings):
    with SmtpServer() as server:
        server.use_in(settings)
        yield server.recorder


@pytest.fixture
def note_kind(settings, tmp_path):
    """A kind registered by the test: its trio in a template folder of its own, one message per address."""
    folder = tmp_path / "note"
    folder.mkdir()
    (folder / "subject.txt").write_text("通知 {{ number }}", encoding="utf-8")
    (folder / "body.txt").write_text("{{ greeting }}：第{{ number }}号通知。", encoding="utf-8")
    (folder / "body.html").write_text("<p>{{ greeting }}：第{{ number }}号通知。</p>", encoding="utf-8")
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [tmp_path, *templates[0]["DIRS"]]
    settings.TEMPLATES = templates

    def recipients(batch):
        return [Recipient(key=address, email=address, payload={"number": batch.key}) for address in ADDRESSES]

    def prepare(batch, messages):
        return {m.pk: Outgoing(context={"greeting": "您好", "number": m.payload["number"]}) for m in messages}

    kind = register(Kind(name="note", templates="note", recipients=recipients, prepare=prepare))
    yield kind
    unregister(kind.name)


def test_a_new_kind_is_delivered_exactly_once_through_smtp(
    note_kind, smtp, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        batch, made = batch_open(kind="note", key="7")
    assert made == 2
    assert sorted(rcpt for m in smtp.messages for rcpt in m.rcpt) == ADDRESSES
    received = smtp.messages[0]
    assert received.headers["Subject"] == "通知 7"
    assert "第7号通知" in received.part("text/plain") and "第7号通知" in received.part("text/html")
    ids = {str(m.headers["Message-ID"]) for m in smtp.messages}
    assert ids == {f"<dgd-note-b{batch.pk}-m{pk}@127.0.0.1>" for pk in batch.messages.values_list("pk", flat=True)}

    with django_capture_on_commit_callbacks(execute=True):
        assert batch_open(kind="note", key="7") == (batch, 0)  # a second run makes nothing
    assert batch_send_chunk(batch_id=batch.pk).claimed == 0
    assert smtp.count() == 2
    assert set(batch.messages.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_a_message_whose_lease_ran_out_is_put_back_by_the_check_and_sent_once(note_kind, smtp, settings):
    batch, _made = batch_open(kind="note", key="8")  # its chunk tasks never run (nothing commits here)
    now = timezone.now()
    _claim, ids = messages_claim(batch_id=batch.pk, limit=10, now=now)  # a sender takes them, then dies
    assert len(ids) == 2
    assert messages_check(now=now) == {"released": 0, "failed": 0, "woken": 0}  # the lease still runs
    assert batch_send_chunk(batch_id=batch.pk).claimed == 0  # nobody else may take them meanwhile

    expired = now + timedelta(seconds=settings.SUBSCRIBERS_LEASE + 1)
    assert messages_check(now=expired) == {"released": 2, "failed": 0, "woken": 0}
    assert set(Message.objects.filter(batch=batch).values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    assert batch_send_chunk(batch_id=batch.pk).sent == 2
    assert batch_send_chunk(batch_id=batch.pk).claimed == 0
    assert smtp.count() == 2
    assert messages_check(now=expired + timedelta(seconds=settings.SUBSCRIBERS_LEASE + 1))["released"] == 0
