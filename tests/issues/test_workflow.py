"""The editorial workflow: who may take which step from which state, and what each step leaves behind."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.utils import timezone

from issues.models import Issue, IssueEvent, IssueRevision, IssueStatus
from issues.selectors import issue_data
from issues.signals import issue_published
from issues.tasks import publish_due_issues
from issues.workflow import (
    WorkflowError,
    allowed_actions,
    issue_approve,
    issue_publish,
    issue_return_to_draft,
    issue_revise,
    issue_schedule,
    issue_submit,
    issue_transition,
    issues_publish_due,
)
from policies.models import guarded_writes
from tests.factories import IssueEntryFactory, IssueFactory

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]

S = IssueStatus
IN_AN_HOUR = datetime.timedelta(hours=1)


def issue_in(status, **kwargs):
    issue = IssueFactory(status=status, **kwargs)
    IssueEntryFactory(issue=issue)
    if status == S.SCHEDULED:
        issue.publish_at = timezone.now() + IN_AN_HOUR
        with guarded_writes(Issue):  # test set-up, standing in for the workflow
            issue.save()
    return issue


# (action, starting state, roles allowed); every other role is refused.
MATRIX = [
    ("submit", S.DRAFT, {"researcher", "chief_editor"}),
    ("approve", S.IN_REVIEW, {"chief_editor"}),
    ("schedule", S.APPROVED, {"chief_editor"}),
    ("unschedule", S.SCHEDULED, {"chief_editor"}),
    ("publish", S.APPROVED, {"chief_editor"}),
    ("publish", S.SCHEDULED, {"chief_editor"}),
    ("return_to_draft", S.IN_REVIEW, {"chief_editor"}),
    ("return_to_draft", S.SCHEDULED, {"chief_editor"}),
]


@pytest.mark.parametrize(("action", "state", "allowed"), MATRIX)
@pytest.mark.parametrize("role", ["researcher", "chief_editor", "sales"])
def test_the_permission_matrix(action, state, allowed, role, request):
    user = request.getfixturevalue(role)
    issue = issue_in(state)
    kwargs = {"comment": "请补充江苏案例", "publish_at": timezone.now() + IN_AN_HOUR}
    if role in allowed:
        issue, changed = issue_transition(issue=issue, action=action, by=user, **kwargs)
        assert changed
        event = IssueEvent.objects.get(issue=issue)
        assert (event.action, event.from_status, event.actor) == (action, state, user)
        assert action in allowed_actions(IssueFactory.build(status=state), user)
    else:
        with pytest.raises(PermissionDenied):
            issue_transition(issue=issue, action=action, by=user, **kwargs)
        issue.refresh_from_db()
        assert issue.status == state
        assert not IssueEvent.objects.filter(issue=issue).exists()
        assert action not in allowed_actions(issue, user)


@pytest.mark.parametrize(
    ("action", "state"),
    [
        ("approve", S.DRAFT),
        ("publish", S.DRAFT),
        ("publish", S.IN_REVIEW),
        ("submit", S.APPROVED),
        ("unschedule", S.APPROVED),
    ],
)
def test_steps_from_the_wrong_state_are_refused_and_change_nothing(action, state, chief_editor):
    issue = issue_in(state)
    with pytest.raises(WorkflowError, match="不能执行"):
        issue_transition(issue=issue, action=action, by=chief_editor, publish_at=timezone.now() + IN_AN_HOUR)
    issue.refresh_from_db()
    assert issue.status == state and not issue.events.exists()


def test_the_whole_way_with_the_audit_trail(researcher, chief_editor):
    issue = issue_in(S.DRAFT)
    issue_submit(issue=issue, by=researcher)
    issue_return_to_draft(issue=issue, by=chief_editor, comment="导读需要更新")
    issue_submit(issue=issue, by=researcher)
    issue_approve(issue=issue, by=chief_editor)
    issue, _ = issue_publish(issue=issue, by=chief_editor)
    assert issue.status == S.PUBLISHED and issue.published_at is not None
    trail = list(issue.events.values_list("action", "actor__username", "to_status", "comment"))
    assert trail == [
        ("submit", researcher.username, S.IN_REVIEW, ""),
        ("return_to_draft", chief_editor.username, S.DRAFT, "导读需要更新"),
        ("submit", researcher.username, S.IN_REVIEW, ""),
        ("approve", chief_editor.username, S.APPROVED, ""),
        ("publish", chief_editor.username, S.PUBLISHED, ""),
    ]


def test_sending_back_needs_a_reason_and_an_empty_issue_cannot_be_submitted(researcher, chief_editor):
    with pytest.raises(WorkflowError, match="请说明退回草稿的原因"):
        issue_return_to_draft(issue=issue_in(S.IN_REVIEW), by=chief_editor, comment="  ")
    with pytest.raises(WorkflowError, match="空期刊不能提交"):
        issue_submit(issue=IssueFactory(status=S.DRAFT), by=researcher)


def test_publishing_twice_publishes_once_and_signals_once(chief_editor, django_capture_on_commit_callbacks):
    issue = issue_in(S.APPROVED)
    received = []

    def receiver(sender, issue_id, **kwargs):
        received.append(issue_id)

    issue_published.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _, first = issue_publish(issue=issue, by=chief_editor)
            _, second = issue_publish(issue=issue, by=chief_editor)
    finally:
        issue_published.disconnect(receiver)
    assert (first, second) == (True, False)
    assert received == [issue.pk]
    assert IssueRevision.objects.filter(issue=issue).count() == 1
    assert issue.events.filter(action="publish").count() == 1


def test_a_schedule_in_the_past_is_refused(chief_editor):
    issue = issue_in(S.APPROVED)
    with pytest.raises(WorkflowError, match="发布时间已过"):
        issue_schedule(issue=issue, by=chief_editor, publish_at=timezone.now() - datetime.timedelta(minutes=1))
    issue.refresh_from_db()
    assert issue.status == S.APPROVED and issue.publish_at is None


def test_the_periodic_task_publishes_what_is_due_once(chief_editor, django_capture_on_commit_callbacks):
    due = issue_in(S.APPROVED)
    later = issue_in(S.APPROVED)
    issue_schedule(issue=due, by=chief_editor, publish_at=timezone.now() + datetime.timedelta(minutes=1))
    issue_schedule(issue=later, by=chief_editor, publish_at=timezone.now() + datetime.timedelta(days=1))
    assert issues_publish_due() == []  # nothing is due yet
    two_minutes_on = timezone.now() + datetime.timedelta(minutes=2)
    assert [i.pk for i in issues_publish_due(now=two_minutes_on)] == [due.pk]
    assert issues_publish_due(now=two_minutes_on) == []  # a second run (or worker) finds nothing to do
    due.refresh_from_db()
    later.refresh_from_db()
    assert due.status == S.PUBLISHED and later.status == S.SCHEDULED
    event = due.events.get(action="publish")
    assert event.actor is None  # the scheduled publication acts on no one's behalf
    assert publish_due_issues() == []  # the Celery task runs the same service


def test_a_published_issue_is_frozen_until_revised(chief_editor, researcher):
    issue = issue_in(S.APPROVED)
    entry = issue.items.get().entry
    issue, _ = issue_publish(issue=issue, by=chief_editor)
    entry.summary = "发布后修改的摘要。"
    entry.save()
    published = issue_data(issue)
    assert published["sections"][0]["entries"][0]["summary"] != "发布后修改的摘要。"
    with pytest.raises(PermissionDenied):
        issue_revise(issue=issue, by=researcher, reason="更正")
    revision = issue_revise(issue=issue, by=chief_editor, reason="更正摘要")
    assert revision.number == 2
    assert issue_data(issue)["sections"][0]["entries"][0]["summary"] == "发布后修改的摘要。"


def test_publish_issue_command_takes_the_steps_the_user_may(chief_editor, researcher):
    issue = issue_in(S.DRAFT)
    with pytest.raises(CommandError, match="approve: "):
        call_command("publish_issue", str(issue.pk), "--as", researcher.username)
    issue.refresh_from_db()
    assert issue.status == S.DRAFT  # the researcher may submit, not approve: refused before the first step
    call_command("publish_issue", str(issue.pk), "--as", chief_editor.username)
    issue.refresh_from_db()
    assert issue.status == S.PUBLISHED
    assert list(issue.events.values_list("action", flat=True)) == ["submit", "approve", "publish"]


def test_publish_issue_command_refuses_unknown_users_and_issues(chief_editor):
    with pytest.raises(CommandError, match="no active user"):
        call_command("publish_issue", str(issue_in(S.DRAFT).pk), "--as", "nobody")
    with pytest.raises(CommandError, match="no issue"):
        call_command("publish_issue", "2031-01", "--as", chief_editor.username)
