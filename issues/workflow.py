"""The editorial workflow: draft → in review → approved → scheduled → published.

Every step is one call to ``issue_transition`` (or a named wrapper): it locks the issue, checks the acting
user's permission and the current state, applies the step, records an ``IssueEvent``, and — for
publishing — freezes the issue as an ``IssueRevision`` and sends ``issue_published`` once the transaction
commits. The admin, the ``publish_issue`` command and the periodic task all come through here, and nothing
else can change an issue's workflow fields: ``Issue.save()`` refuses it outside ``guarded_writes(Issue)``.

Approval freezes the content: ``approved_data`` holds the issue as the chief editor approved it, and
publishing (now or at the scheduled time) publishes exactly that, whatever happened to the entries since.
Sending the issue back to draft drops the frozen copy; the next approval freezes the content anew.

A chief editor may not approve an issue they submitted themselves (``ISSUES_ALLOW_SELF_APPROVAL`` lifts this for
an office with one chief editor). Submitting, approving and sending back open the batch of mails they owe
(``issues.notices``, a kind of the mail engine) in the step's own transaction; it is sent once it commits.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from issues.models import Issue, IssueEvent, IssueRevision, IssueStatus
from issues.notices import notices_for_step
from issues.selectors import issue_as_data, issue_shared_entries
from issues.signals import issue_published
from policies.indexing import catalogue_flush
from policies.models import Entry, Status, guarded_writes

S = IssueStatus


class WorkflowError(Exception):
    """A step the issue's current state does not allow; the message is for the user."""


@dataclass(frozen=True)
class Transition:
    sources: frozenset
    target: str
    permission: str
    label: str


TRANSITIONS = {
    "submit": Transition(frozenset({S.DRAFT}), S.IN_REVIEW, "issues.submit_issue", gettext_lazy("Submit for review")),
    "approve": Transition(frozenset({S.IN_REVIEW}), S.APPROVED, "issues.approve_issue", gettext_lazy("Approve")),
    "schedule": Transition(
        frozenset({S.APPROVED, S.SCHEDULED}), S.SCHEDULED, "issues.publish_issue", gettext_lazy("Schedule")
    ),
    "unschedule": Transition(
        frozenset({S.SCHEDULED}), S.APPROVED, "issues.publish_issue", gettext_lazy("Cancel the schedule")
    ),
    "publish": Transition(
        frozenset({S.APPROVED, S.SCHEDULED}), S.PUBLISHED, "issues.publish_issue", gettext_lazy("Publish now")
    ),
    "return_to_draft": Transition(
        frozenset({S.IN_REVIEW, S.APPROVED, S.SCHEDULED}),
        S.DRAFT,
        "issues.approve_issue",
        gettext_lazy("Send back to draft"),
    ),
}


def allowed_actions(issue, user):
    """The steps ``user`` may take on ``issue`` now, in the order they are offered."""
    return [
        name
        for name, transition in TRANSITIONS.items()
        if issue.status in transition.sources
        and user.has_perm(transition.permission)
        and not (name == "approve" and self_approval_refused(issue, user))
    ]


def self_approval_refused(issue, user):
    """A chief editor may not approve an issue they submitted themselves: a second pair of eyes, unless the
    office has one chief editor only (``ISSUES_ALLOW_SELF_APPROVAL``)."""
    if settings.ISSUES_ALLOW_SELF_APPROVAL or user is None:
        return False
    submitter = issue.submitter()
    return submitter is not None and submitter.pk == user.pk


def issue_transition(*, issue, action, by, comment="", publish_at=None, system=False):
    """Take one workflow step. Returns the issue and whether anything changed.

    Publishing an issue that is already published changes nothing (a double click, two workers).
    ``system=True`` is for the scheduled publication only, which acts on no user's behalf.
    """
    transition = TRANSITIONS[action]
    if not system and not by.has_perm(transition.permission):
        raise PermissionDenied(_("You may not do this: %(action)s.") % {"action": transition.label})
    with transaction.atomic():
        issue = Issue.objects.select_for_update().select_related("series").get(pk=issue.pk)
        if issue.status not in transition.sources:
            if issue.status == transition.target and action == "publish":
                return issue, False
            raise WorkflowError(
                _("“%(action)s” is not possible for an issue that is %(status)s.")
                % {"status": issue.get_status_display(), "action": transition.label}
            )
        _check(issue, action, by=None if system else by, comment=comment, publish_at=publish_at)
        source = issue.status
        issue.status = transition.target
        if action == "approve":
            issue.approved_data = issue_as_data(issue)
        elif action == "schedule":
            issue.publish_at = publish_at
        elif action == "unschedule":
            issue.publish_at = None
        elif action == "return_to_draft":
            issue.publish_at = None
            issue.approved_data = None
        elif action == "publish":
            issue.published_at = timezone.now()
            _entries_make_ready(issue, by=None if system else by)
        issue._change_reason = f"workflow: {action}"
        if not system:
            issue._history_user = by
        with guarded_writes(Issue):
            issue.save()
        if action == "publish":
            revision_create(issue=issue, by=None if system else by, reason=_("Published"), data=issue.approved_data)
            transaction.on_commit(lambda: issue_published.send(sender=Issue, issue_id=issue.pk))
        event = IssueEvent.objects.create(
            issue=issue,
            action=action,
            from_status=source,
            to_status=transition.target,
            actor=None if system else by,
            comment=comment,
        )
        notices_for_step(event)  # the batch is made now, mailed by the engine once the step commits
    return issue, True


def _entries_make_ready(issue, *, by):
    """Publishing an issue publishes its entries: a draft entry of it (imported with ``--draft``, added by hand)
    becomes ready and visible in the library, recorded in its history as published with the issue. The chief
    editor approved it with the issue; leaving it hidden would make an issue public whose entries are not."""
    with guarded_writes(Entry):
        for entry in Entry.objects.filter(issue_items__issue=issue, status=Status.DRAFT).order_by("pk"):
            entry.status = Status.READY
            entry._change_reason = f"published with {issue}"
            entry._history_user = by
            entry.save(update_fields=["status", "updated_at"])
    catalogue_flush()  # the library shows them as the transaction commits


def _check(issue, action, *, by, comment, publish_at):
    if action == "approve" and self_approval_refused(issue, by):
        raise WorkflowError(_("You submitted this issue yourself: another chief editor must approve it."))
    if action == "submit" and not issue.items.exists():
        raise WorkflowError(_("An empty issue cannot be submitted: assemble it first."))
    if action in ("submit", "approve"):
        shared = issue_shared_entries(issue)
        if shared:
            raise WorkflowError(
                _("These entries are in another issue already; take them out first: %(titles)s")
                % {"titles": "；".join(entry.display_title for entry in shared)}
            )
    if action == "schedule":
        if publish_at is None:
            raise WorkflowError(_("Choose the publication time (Asia/Shanghai)."))
        if publish_at <= timezone.now():
            raise WorkflowError(_("The publication time has passed: choose a later time, or publish now."))
    if action == "return_to_draft" and not comment.strip():
        raise WorkflowError(_("Say why the issue goes back to draft."))


# The version of the issue JSON (docs/issue-json.md) each revision stores, under "schema": whoever reads an old
# revision knows which shape it holds. A change of the shape raises it, with a data migration for the revisions
# already stored (as issues/migrations/0006_revision_schema gave version 1 to those from before it).
REVISION_SCHEMA = 1


def revision_create(*, issue, by, reason, data=None):
    """Freeze the issue's next published revision: ``data`` (the content as approved) or, without it, the
    issue's content as it stands now (a correction, an archive import)."""
    number = (issue.revisions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    data = {**(data or issue_as_data(issue)), "status": issue.status, "schema": REVISION_SCHEMA}
    return IssueRevision.objects.create(issue=issue, number=number, data=data, reason=reason, created_by=by)


def issue_submit(*, issue, by):
    return issue_transition(issue=issue, action="submit", by=by)


def issue_approve(*, issue, by):
    return issue_transition(issue=issue, action="approve", by=by)


def issue_schedule(*, issue, by, publish_at):
    return issue_transition(issue=issue, action="schedule", by=by, publish_at=publish_at)


def issue_publish(*, issue, by):
    return issue_transition(issue=issue, action="publish", by=by)


def issue_return_to_draft(*, issue, by, comment):
    return issue_transition(issue=issue, action="return_to_draft", by=by, comment=comment)


def issue_revise(*, issue, by, reason):
    """Correct a published issue: its current entries become a new revision that readers then see."""
    if not by.has_perm("issues.publish_issue"):
        raise PermissionDenied(_("You may not revise a published issue."))
    if not reason.strip():
        raise WorkflowError(_("Say what the revision corrects."))
    with transaction.atomic():
        issue = Issue.objects.select_for_update().get(pk=issue.pk)
        if not issue.is_published:
            raise WorkflowError(_("Only a published issue has revisions; edit a draft directly."))
        revision = revision_create(issue=issue, by=by, reason=reason)
        IssueEvent.objects.create(
            issue=issue, action="revise", from_status=issue.status, to_status=issue.status, actor=by, comment=reason
        )
    return revision


def issues_publish_due(*, now=None):
    """Publish every scheduled issue whose time has come; safe to run from several workers at once."""
    now = now or timezone.now()
    published = []
    due = Issue.objects.filter(status=S.SCHEDULED, publish_at__lte=now).values_list("pk", flat=True)
    for pk in due:
        with transaction.atomic():
            issue = Issue.objects.select_for_update(skip_locked=True).filter(pk=pk, status=S.SCHEDULED).first()
            if issue is None:
                continue  # another worker has it, or it was published meanwhile
            issue, changed = issue_transition(issue=issue, action="publish", by=None, system=True)
            if changed:
                published.append(issue)
    return published
