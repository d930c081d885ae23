"""Workflow mail: chief editors hear of a submission, the author hears of an approval or a send-back.

A step records one ``IssueNotice`` per recipient inside its own transaction (so a step that rolls back mails
no one) and queues ``issues.tasks.send_issue_notice`` for each once it commits. The task sends through
Django's mail connection, the same SMTP settings (``EMAIL_*``) the digests use, and records sent or failed:
a failed notice stays in the admin (工作流邮件) and can be sent again from there.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from issues.models import IssueNotice, NoticeKind, NoticeStatus

KIND_OF_STEP = {"submit": NoticeKind.SUBMITTED, "approve": NoticeKind.APPROVED, "return_to_draft": NoticeKind.RETURNED}
TEMPLATE_DIR = "issues/notice"


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


def _recipients(event):
    kind = KIND_OF_STEP[event.action]
    if kind == NoticeKind.SUBMITTED:
        return [user for user in chief_editors() if user.pk != event.actor_id]
    author = event.issue.submitter()
    return [author] if author is not None and author.pk != event.actor_id else []


def notices_for_step(event):
    """Record the mails a workflow step owes and queue them for after the commit. Returns the notices."""
    if event.action not in KIND_OF_STEP:
        return []
    kind = KIND_OF_STEP[event.action]
    notices = []
    for user in _recipients(event):
        notice = IssueNotice(issue=event.issue, event=event, kind=kind, recipient=user, email=user.email)
        if not user.email:
            notice.status, notice.error = NoticeStatus.FAILED, "no email address"
        notice.save()
        notices.append(notice)
    for notice in notices:
        if notice.status == NoticeStatus.PENDING:
            transaction.on_commit(lambda pk=notice.pk: _queue(pk))
    return notices


def _queue(notice_id):
    from issues.tasks import send_issue_notice  # the task module imports the workflow, which imports this

    send_issue_notice.delay(notice_id)


def notice_message(notice, *, connection=None):
    """The notice as a multipart mail (text and HTML) from the template trio in templates ``issues/notice/``."""
    issue_url = settings.SITE_URL.rstrip("/") + reverse("admin:issues_issue_change", args=[notice.issue_id])
    context = {"notice": notice, "issue": notice.issue, "event": notice.event, "issue_url": issue_url}
    subject = " ".join(render_to_string(f"{TEMPLATE_DIR}/subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{TEMPLATE_DIR}/body.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notice.email],
        connection=connection,
    )
    message.attach_alternative(render_to_string(f"{TEMPLATE_DIR}/body.html", context), "text/html")
    return message


def notice_send(*, notice_id):
    """Send one recorded notice (again, if it failed before); a sent one is never sent twice."""
    with transaction.atomic():
        notice = (
            IssueNotice.objects.select_for_update(of=("self",))
            .select_related("issue__series", "event__actor", "recipient")
            .filter(pk=notice_id)
            .first()
        )
        if notice is None or notice.status == NoticeStatus.SENT or not notice.email:
            return notice
        try:
            with get_connection() as connection:
                notice_message(notice, connection=connection).send()
        except Exception as error:  # any failure of the relay is recorded, never lost
            notice.status, notice.error = NoticeStatus.FAILED, f"{type(error).__name__}: {error}"[:2000]
        else:
            notice.status, notice.error, notice.sent_at = NoticeStatus.SENT, "", timezone.now()
        notice.save(update_fields=["status", "error", "sent_at"])
    return notice
