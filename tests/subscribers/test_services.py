"""The delivery pipeline through its services and tasks (run in-process here; test_worker.py runs a real worker)."""

import json
import smtplib
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from demo.subscribers import seed_subscribers
from subscribers import services
from subscribers.models import Delivery, DeliveryStatus, Scope, Subscriber, SubscriberStatus
from subscribers.selectors import delivery_counts, digest_content
from tests.subscribers.helpers import make_subscriber, publish_sample
from tests.subscribers.smtp import SmtpServer

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def audience():
    return {
        "whole": make_subscriber("whole@example.org", name="王芳"),
        "jiangsu_first": make_subscriber("js@example.org", provinces=[320000], name="李<b>"),
        "only_beijing": make_subscriber("bj@example.org", scope=Scope.MATCHING, provinces=[110000]),
        "only_tibet": make_subscriber("xz@example.org", scope=Scope.MATCHING, provinces=[540000]),
        "pending": make_subscriber("pending@example.org", status=SubscriberStatus.PENDING),
        "gone": make_subscriber("gone@example.org", status=SubscriberStatus.UNSUBSCRIBED),
    }


def test_publishing_sends_each_confirmed_subscriber_a_tailored_digest(
    audience, chief_editor, smtp, eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.SUBSCRIBERS_REPLY_TO = ["editors@example.org"]
    with django_capture_on_commit_callbacks(execute=True):
        issue = publish_sample(chief_editor)
    assert delivery_counts(issue_id=issue.pk) == {"total": 4, "sent": 3, "failed": 0, "pending": 0, "skipped": 1}
    assert Delivery.objects.get(subscriber=audience["only_tibet"]).error == "nothing matches"
    for address in ("pending@example.org", "gone@example.org", "xz@example.org"):
        assert smtp.to(address) == []

    [whole] = smtp.to("whole@example.org")
    headers = whole.headers
    assert headers["Message-ID"] == f"<dgd-issue{issue.pk}-sub{audience['whole'].pk}@127.0.0.1>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = [part.strip(" <>") for part in headers["List-Unsubscribe"].split(",")]
    assert https.startswith("http://127.0.0.1:8000/subscribe/unsubscribe/") and mailto.startswith("mailto:")
    assert headers["Reply-To"] == "editors@example.org"
    text, html = whole.part("text/plain"), whole.part("text/html")
    assert "王芳" in text and "DGDxPERSONAL" not in text + html
    assert "http://127.0.0.1:8000/issues/2022-08/" in html and "http://127.0.0.1:8000/issues/2022-08/pdf/" in html
    assert "<style" not in html and 'style="' in html  # CSS inlined
    assert b"quoted-printable" not in whole.content  # lines folded under 998 bytes: 8bit, not three times the size
    assert "为您精选" not in html and "For you" not in html  # no preferences: no heading of its own

    [jiangsu] = smtp.to("js@example.org")
    html = jiangsu.part("text/html")
    assert "李&lt;b&gt;" in html  # the personal parts are escaped in HTML
    assert html.index('class="matching"') < html.index("昆山") < html.index("一、要闻速递")  # Jiangsu first
    text = jiangsu.part("text/plain")
    assert text.index("昆山") < text.index("一、要闻速递") < text.index("北京市人民政府")

    [beijing] = smtp.to("bj@example.org")
    text = beijing.part("text/plain")
    # only what matches (本期导读, which opens every digest, may name any province's policy)
    entries = text.split("== 本期导读 ==", 1)[1].split("\n== ", 1)[1]  # what follows the introduction
    assert "北京市人民政府" in entries and "浙江省人民政府" not in entries


def test_fan_out_is_idempotent(audience, chief_editor, smtp, eager_celery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        issue = publish_sample(chief_editor)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_create_for_issue(issue_id=issue.pk) == 0
    assert Delivery.objects.filter(issue=issue).count() == 4
    assert len(smtp.digests()) == 3


def test_digest_content_puts_matching_entries_first():
    data = {
        "sections": [
            {"key": "headlines", "title": "一、要闻速递", "entries": [{"regions": [], "themes": ["e-licence"]}]},
            {"key": "policies", "title": "二、政策广角", "entries": [{"regions": ["320583"], "themes": []}]},
        ]
    }
    whole = digest_content(data, scope=Scope.WHOLE, provinces=[320000], themes=[])
    assert [e["section_title"] for e in whole["matching"]] == ["二、政策广角"]  # a city counts for its province
    assert [s["key"] for s in whole["sections"]] == ["headlines"]
    only = digest_content(data, scope=Scope.MATCHING, provinces=[], themes=["e-licence"])
    assert len(only["matching"]) == 1 and only["sections"] == []
    nothing = digest_content(data, scope=Scope.MATCHING, provinces=[540000], themes=[])
    assert nothing["matching"] == [] and nothing["sections"] == []


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (smtplib.SMTPDataError(451, b"4.3.0 Try again later"), True),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), True),
        (ConnectionResetError(104, "reset"), True),
        (smtplib.SMTPDataError(554, b"5.7.1 Rejected"), False),
        (smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"5.1.1 No such user")}), False),
        (smtplib.SMTPRecipientsRefused({"a@example.org": (452, b"4.2.2 Mailbox full")}), True),
    ],
)
def test_transient_and_permanent_failures(error, transient):
    assert services.classify_error(error)[0] is transient


@pytest.mark.parametrize(("reply", "status"), [("451 4.3.0 Try later", "pending"), ("550 5.1.1 No user", "failed")])
def test_a_refusing_server(
    reply, status, audience, chief_editor, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.SUBSCRIBERS_RETRY_BACKOFF = 3600  # the retry task comes later: here we look at the rows after one try
    with SmtpServer(fail_every=1, fail_reply=reply) as server:
        server.use_in(settings)
        with django_capture_on_commit_callbacks(execute=True):
            issue = publish_sample(chief_editor)
    rows = Delivery.objects.filter(issue=issue).exclude(status=DeliveryStatus.SKIPPED)
    assert {row.status for row in rows} == {status}
    assert all(row.error.startswith(reply[:3]) and row.attempts == 1 for row in rows)
    if status == "pending":
        assert all(row.next_attempt_at > timezone.now() + timedelta(seconds=3000) for row in rows)


def test_the_last_transient_failure_fails_the_row(audience, chief_editor, settings, eager_celery):
    settings.SUBSCRIBERS_MAX_ATTEMPTS = 1
    with SmtpServer(fail_every=1) as server:
        server.use_in(settings)
        issue = publish_sample(chief_editor)  # no on-commit callbacks here: the fan-out runs below
        services.deliveries_create_for_issue(issue_id=issue.pk)
        services.deliveries_send_chunk(issue_id=issue.pk)
    assert delivery_counts(issue_id=issue.pk)["failed"] == 3


def test_the_check_puts_back_what_a_dead_worker_left(
    audience, chief_editor, smtp, settings, eager_celery, django_capture_on_commit_callbacks
):
    issue = publish_sample(chief_editor)
    services.deliveries_create_for_issue(issue_id=issue.pk)
    long_ago = timezone.now() - timedelta(seconds=1)  # the lease ran out
    Delivery.objects.update(status=DeliveryStatus.SENDING, claims=1, claimed_at=long_ago, lease_until=long_ago)
    report = services.deliveries_check(dry_run=True)
    assert report == {"fanned_out": 0, "released": 4, "failed": 0, "woken": 0}
    assert Delivery.objects.filter(status=DeliveryStatus.SENDING).count() == 4
    with django_capture_on_commit_callbacks(execute=True):
        services.deliveries_check()
    assert delivery_counts(issue_id=issue.pk) == {"total": 4, "sent": 3, "failed": 0, "pending": 0, "skipped": 1}
    assert len(smtp.digests()) == 3


def test_retry_failed_and_the_report_command(
    audience, chief_editor, smtp, capsys, eager_celery, django_capture_on_commit_callbacks
):
    issue = publish_sample(chief_editor)
    services.deliveries_create_for_issue(issue_id=issue.pk)
    Delivery.objects.filter(subscriber=audience["whole"]).update(status=DeliveryStatus.FAILED, error="550 no")
    call_command("delivery_report", "2022-08", "--format", "json")
    assert json.loads(capsys.readouterr().out) == {"total": 4, "sent": 0, "failed": 1, "pending": 3, "skipped": 0}
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_retry_failed(issue_id=issue.pk) == 1
    call_command("delivery_report", str(issue.pk), "--format", "json")
    assert json.loads(capsys.readouterr().out) == {"total": 4, "sent": 3, "failed": 0, "pending": 0, "skipped": 1}


def test_csv_import(smtp, eager_celery, django_capture_on_commit_callbacks):
    make_subscriber("known@example.org", name="原名")
    data = (
        "email,name,organisation,provinces,themes,scope\n"
        "A@example.org,甲,市大数据局,江苏;110000,电子证照,matching\n"
        "known@example.org,乙,,,,\n"
    ).encode()
    with django_capture_on_commit_callbacks(execute=True):
        result = services.subscribers_import_csv(data=data, consented=False, source="展会 2026")
    assert (result.created, result.existing, result.errors) == (1, 1, [])
    imported = Subscriber.objects.get(email="a@example.org")
    assert (imported.status, imported.source, imported.scope) == (SubscriberStatus.PENDING, "展会 2026", "matching")
    assert sorted(imported.provinces.values_list("code", flat=True)) == [110000, 320000]
    assert list(imported.themes.values_list("slug", flat=True)) == ["e-licence"]
    assert Subscriber.objects.get(email="known@example.org").name == "原名"
    assert "/confirm/" in smtp.wait_for(lambda: smtp.to("a@example.org"))[0].part("text/plain")

    consented = services.subscribers_import_csv(data=b"email\nb@example.org\n", consented=True, source="CRM")
    assert consented.created == 1
    b = Subscriber.objects.get(email="b@example.org")
    assert b.status == SubscriberStatus.CONFIRMED and b.consent_at and b.source == "CRM"


def test_csv_import_refuses_a_malformed_file_whole():
    data = "email,provinces\ngood@example.org,\nnot-an-address,\nc@example.org,火星\n".encode()
    result = services.subscribers_import_csv(data=data, consented=True, source="x")
    assert result.errors == ["第3行：电子邮件地址无效«not-an-address»。", "第4行：未知的省份或主题：火星。"]
    assert not Subscriber.objects.exists()


def test_seed_subscribers_is_deterministic_and_varied():
    assert seed_subscribers(count=30, seed=3) == 30
    assert seed_subscribers(count=30, seed=3) == 0  # already there
    subscribers = Subscriber.objects.filter(source="demo").prefetch_related("provinces", "themes").order_by("email")
    first = [(s.scope, sorted(p.code for p in s.provinces.all())) for s in subscribers]
    assert all(s.status == SubscriberStatus.CONFIRMED for s in subscribers)
    assert {scope for scope, _ in first} == {Scope.WHOLE, Scope.MATCHING}
    assert any(not provinces for _, provinces in first) and any(provinces for _, provinces in first)
    Subscriber.objects.all().delete()
    seed_subscribers(count=30, seed=3)
    again = Subscriber.objects.filter(source="demo").prefetch_related("provinces").order_by("email")
    assert [(s.scope, sorted(p.code for p in s.provinces.all())) for s in again] == first


def test_a_subscription_mail_whose_task_runs_twice_goes_once(smtp, eager_celery, django_capture_on_commit_callbacks):
    """The subscription mails ride on the mail engine: one batch per request, under the key drawn with it."""
    subscriber = make_subscriber("twice@example.org", status=SubscriberStatus.PENDING)
    preferences = {"scope": "whole", "provinces": [], "themes": []}
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            services.subscriber_send_confirmation(subscriber_id=subscriber.pk, preferences=preferences, key="k1")
            == "confirm"
        )
        assert (
            services.subscriber_send_confirmation(subscriber_id=subscriber.pk, preferences=preferences, key="k1")
            is None
        )
    (received,) = smtp.messages
    assert received.rcpt == ["twice@example.org"]
    assert "/subscribe/confirm/" in received.part("text/plain")
    assert subscriber.confirmation_requests.count() == 1
