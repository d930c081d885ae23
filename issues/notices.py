"""Workflow mail: chief editors hear of a submission, the author hears of an approval or a send-back.

A kind of mail of the engine (``mailings``, docs/delivery.md): a step opens one batch (kind ``notice``, key
``{issue id}-{event id}``) with one message per recipient inside its own transaction, so a step that rolls back
mails no one and a step mails each recipient once; the engine's chunk task sends it once the step commits, with
the engine's retries, lease and check. A recipient without an address is recorded failed, not lost. The admin
(工作流邮件) shows the messages (``IssueNotice``, a proxy of ``mailings.Message``) and sends a failed one again.
"""

from collections import defaultdict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from issues.models import NOTICE_KIND, Issue, IssueEvent, IssueNotice, NoticeKind
from mailings.kinds import Kind, Outgoing, Recipient, register
from mailings.models import DeliveryStatus
from mailings.services import batch_open, messages_send_now

KIND_OF_STEP = {"submit": NoticeKind.SUBMITTED, "approve": NoticeKind.APPROVED, "return_to_draft": NoticeKind.RETURNED}
TEMPLATE_DIR = "issues/notice"
NO_ADDRESS = "no email address"


def chief_editors():
    """Active users who may approve (members of a group with the permission, or holding it themselves)."""
    permission = Permission.objects.filter(content_type__app_label="issues", codename="approve_issue").first()
    if permission is None:
        return get_user_model().objects.none()
    return (
        get_user_model()
        .objects.filter(Q(groups__permissions=permission) | Q(user_permissions=permission), is_active=True)
        .distinct()
        .order_by("pk")
    )


def _users(event):
    kind = KIND_OF_STEP[event.action]
    if kind == NoticeKind.SUBMITTED:
        return [user for user in chief_editors() if user.pk != event.actor_id]
    author = event.issue.submitter()
    return [author] if author is not None and author.pk != event.actor_id else []


def notice_recipients(batch):
    """The step's recipients, when its batch is made (in the step's transaction)."""
    event = IssueEvent.objects.select_related("issue").get(pk=batch.params["event_id"])
    kind = KIND_OF_STEP[event.action]
    return [Recipient(key=str(user.pk), email=user.email, payload={"kind": kind}) for user in _users(event)]


def notice_prepare(batch, messages):
    """Each message's context: the issue, the step (its actor and comment) and the link to the issue's admin."""
    issue = Issue.objects.select_related("series").filter(pk=batch.params["issue_id"]).first()
    event = IssueEvent.objects.select_related("actor").filter(pk=batch.params.get("event_id")).first()
    if issue is None:
        return dict.fromkeys((message.pk for message in messages), "issue gone")
    issue_url = settings.SITE_URL.rstrip("/") + reverse("admin:issues_issue_change", args=[issue.pk])
    return {
        message.pk: Outgoing(
            context={"notice": message.payload, "issue": issue, "event": event, "issue_url": issue_url}
        )
        for message in messages
    }


NOTICE = register(
    Kind(
        name=NOTICE_KIND,
        templates=TEMPLATE_DIR,
        recipients=notice_recipients,
        prepare=notice_prepare,
        from_setting="DEFAULT_FROM_EMAIL",
    )
)


def notices_for_step(event):
    """Open the step's batch of mails (sent by the engine once the step commits). Returns its notices."""
    if event.action not in KIND_OF_STEP:
        return []
    with transaction.atomic():
        batch, _made = batch_open(
            kind=NOTICE_KIND,
            key=f"{event.issue_id}-{event.pk}",
            params={"issue_id": event.issue_id, "event_id": event.pk},
        )
        batch.messages.filter(email="", status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED, error=NO_ADDRESS, updated_at=timezone.now()
        )
    return list(IssueNotice.objects.filter(batch=batch).order_by("pk"))


def notices_send(*, notice_ids, by):
    """Send recorded notices now (the admin's "send again", for whoever may change them): a failed one, or one
    waiting for its retry, is due at once and its batch's chunk sent; one sent already is never sent twice, one
    without an address stays failed. Returns the notices as they are after."""
    if not by.has_perm("issues.change_issuenotice"):
        raise PermissionDenied(_("You may not send workflow mails again."))
    by_batch = defaultdict(list)
    for pk, batch_id in IssueNotice.objects.filter(pk__in=notice_ids).exclude(email="").values_list("pk", "batch_id"):
        by_batch[batch_id].append(pk)
    for batch_id, ids in by_batch.items():
        messages_send_now(batch_id=batch_id, ids=ids)
    return list(IssueNotice.objects.filter(pk__in=notice_ids).order_by("pk"))


def notice_send(*, notice_id, by):
    """Send one recorded notice now (again, if it failed before); a sent one is never sent twice."""
    return next(iter(notices_send(notice_ids=[notice_id], by=by)), None)
