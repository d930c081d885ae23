"""The workflow notices move onto the mail engine: each recorded ``IssueNotice`` becomes a ``mailings.Message``
of its step's batch (kind ``notice``, key ``{issue id}-{event id}``) with its status, error and times; then the
table goes and ``IssueNotice`` is a proxy of ``Message``. A pending notice of the last day stays pending: the
engine's periodic check finds it and sends it; an older one is skipped (a months-old "submitted for review" would
only mislead). Going back puts the messages back into notices (the batches stay), leaving out those whose issue
is gone and forgetting a recipient who is gone."""

import datetime

from django.db import migrations
from django.utils import timezone

KIND = "notice"
STALE = datetime.timedelta(days=1)


def _key(notice):
    return f"{notice.issue_id}-{notice.event_id}" if notice.event_id else f"{notice.issue_id}-n{notice.pk}"


def notices_to_messages(apps, schema_editor):
    IssueNotice = apps.get_model("issues", "IssueNotice")
    Batch = apps.get_model("mailings", "Batch")
    Message = apps.get_model("mailings", "Message")
    stale_before = timezone.now() - STALE
    for notice in IssueNotice.objects.order_by("pk").iterator():
        status, error = notice.status, notice.error
        if status == "pending" and notice.created_at < stale_before:
            status, error = "skipped", "pending since before the move to the mail engine: too old to send"
        batch, _made = Batch.objects.get_or_create(
            kind=KIND, key=_key(notice), defaults={"params": {"issue_id": notice.issue_id, "event_id": notice.event_id}}
        )
        recipient = str(notice.recipient_id) if notice.recipient_id else f"n{notice.pk}"
        if Message.objects.filter(batch=batch, recipient=recipient).exists():
            recipient = f"n{notice.pk}"
        message = Message.objects.create(
            batch=batch,
            recipient=recipient,
            email=notice.email,
            payload={"kind": notice.kind},
            status=status,
            error=error,
            sent_at=notice.sent_at,
            attempts=1 if notice.status != "pending" else 0,
            updated_at=notice.sent_at or notice.created_at,
        )
        Message.objects.filter(pk=message.pk).update(created_at=notice.created_at)
        Batch.objects.filter(pk=batch.pk).update(recipients=batch.messages.count())


def messages_to_notices(apps, schema_editor):
    IssueNotice = apps.get_model("issues", "IssueNotice")
    Message = apps.get_model("mailings", "Message")
    Issue = apps.get_model("issues", "Issue")
    User = apps.get_model("auth", "User")
    issues = set(Issue.objects.values_list("pk", flat=True))
    users = set(User.objects.values_list("pk", flat=True))
    for message in Message.objects.filter(batch__kind=KIND).select_related("batch").order_by("pk").iterator():
        if message.batch.params.get("issue_id") not in issues:
            continue
        recipient_id = int(message.recipient) if message.recipient.isdigit() else None
        notice = IssueNotice.objects.create(
            issue_id=message.batch.params["issue_id"],
            event_id=message.batch.params.get("event_id"),
            kind=message.payload.get("kind", ""),
            recipient_id=recipient_id if recipient_id in users else None,
            email=message.email,
            status=message.status if message.status in ("pending", "sent", "failed") else "failed",
            error=message.error,
            sent_at=message.sent_at,
        )
        IssueNotice.objects.filter(pk=notice.pk).update(created_at=message.created_at)
    Message.objects.filter(batch__kind=KIND).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0006_revision_schema"),
        ("mailings", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(notices_to_messages, messages_to_notices),
        migrations.DeleteModel(name="IssueNotice"),
        migrations.CreateModel(
            name="IssueNotice",
            fields=[],
            options={
                "verbose_name": "workflow mail",
                "verbose_name_plural": "workflow mails",
                "ordering": ["-created_at", "-id"],
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("mailings.message",),
        ),
    ]
