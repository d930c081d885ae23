"""The editorial workflow: who may take which step from which state, and what each step leaves behind."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.utils import timezone

from issues.models import Issue, IssueEvent, IssueNotice, IssueRevision, IssueStatus
from issues.notices import notice_send, notices_for_step
from issues.selectors import issue_data
from issues.services import issue_draft_intro, issue_next_numbering, section_for
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
from mailings.services import batch_send_chunk
from policies.models import Kind, Level, Theme, guarded_writes
from tests.factories import EntryFactory, IssueEntryFactory, IssueFactory, PracticeEntryFactory, UserFactory
from tests.subscribers.smtp import free_port

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


def test_publish_issue_command_takes_the_steps_the_user_may(chief_editor, researcher, settings):
    issue = issue_in(S.DRAFT)
    with pytest.raises(CommandError, match="approve: "):
        call_command("publish_issue", str(issue.pk), "--as", researcher.username)
    issue.refresh_from_db()
    assert issue.status == S.DRAFT  # the researcher may submit, not approve: refused before the first step
    settings.ISSUES_ALLOW_SELF_APPROVAL = False
    with pytest.raises(CommandError, match="另一位主编"):  # submitting and approving alone: a second look is due
        call_command("publish_issue", str(issue.pk), "--as", chief_editor.username)
    issue.refresh_from_db()
    assert issue.status == S.DRAFT and not issue.events.exists()
    settings.ISSUES_ALLOW_SELF_APPROVAL = True
    call_command("publish_issue", str(issue.pk), "--as", chief_editor.username)
    issue.refresh_from_db()
    assert issue.status == S.PUBLISHED
    assert list(issue.events.values_list("action", flat=True)) == ["submit", "approve", "publish"]


def test_publish_issue_command_refuses_unknown_users_and_issues(chief_editor):
    with pytest.raises(CommandError, match="no active user"):
        call_command("publish_issue", str(issue_in(S.DRAFT).pk), "--as", "nobody")
    with pytest.raises(CommandError, match="no issue"):
        call_command("publish_issue", "2031-01", "--as", chief_editor.username)


# -- a second pair of eyes ------------------------------------------------------------------------------------


def test_a_chief_editor_may_not_approve_an_issue_they_submitted(chief_editor, settings):
    settings.ISSUES_ALLOW_SELF_APPROVAL = False
    issue = issue_in(S.DRAFT)
    issue_submit(issue=issue, by=chief_editor)
    assert "approve" not in allowed_actions(issue, chief_editor)
    with pytest.raises(WorkflowError, match="另一位主编"):
        issue_approve(issue=issue, by=chief_editor)
    issue.refresh_from_db()
    assert issue.status == S.IN_REVIEW
    other = UserFactory(role="chief_editor")
    assert "approve" in allowed_actions(issue, other)
    issue_approve(issue=issue, by=other)
    issue.refresh_from_db()
    assert issue.status == S.APPROVED


def test_self_approval_is_allowed_when_the_setting_says_so(chief_editor, settings):
    settings.ISSUES_ALLOW_SELF_APPROVAL = True
    issue = issue_in(S.DRAFT)
    issue_submit(issue=issue, by=chief_editor)
    issue, changed = issue_approve(issue=issue, by=chief_editor)
    assert changed and issue.status == S.APPROVED


def test_a_resubmission_by_someone_else_frees_the_first_submitter_to_approve(researcher, chief_editor, settings):
    settings.ISSUES_ALLOW_SELF_APPROVAL = False
    issue = issue_in(S.DRAFT)
    issue_submit(issue=issue, by=chief_editor)
    issue_return_to_draft(issue=issue, by=UserFactory(role="chief_editor"), comment="补充")
    issue_submit(issue=issue, by=researcher)
    issue_approve(issue=issue, by=chief_editor)  # the current review was asked for by the researcher
    issue.refresh_from_db()
    assert issue.status == S.APPROVED


# -- workflow mail ---------------------------------------------------------------------------------------------


def test_each_step_records_its_mails_with_the_step(researcher, chief_editor):
    second = UserFactory(role="chief_editor")
    UserFactory(role="chief_editor", email="")  # no address: recorded as failed, not lost
    UserFactory(role="chief_editor", is_active=False)  # left the institute: not told
    issue = issue_in(S.DRAFT)
    issue_submit(issue=issue, by=researcher)
    notices = list(IssueNotice.objects.filter(payload__kind="submitted").order_by("pk"))
    assert [n.email for n in notices] == [chief_editor.email, second.email, ""]
    assert [n.status for n in notices] == ["pending", "pending", "failed"]
    assert all(n.event.action == "submit" for n in notices)
    issue_return_to_draft(issue=issue, by=chief_editor, comment="请补充导读")
    returned = IssueNotice.objects.get(payload__kind="returned")
    assert (returned.email, returned.event.comment) == (researcher.email, "请补充导读")


def test_a_step_mails_each_recipient_once_however_often_its_batch_is_opened(
    researcher, chief_editor, mailoutbox, eager_celery, django_capture_on_commit_callbacks
):
    issue = issue_in(S.DRAFT)
    with django_capture_on_commit_callbacks(execute=True):
        issue_submit(issue=issue, by=researcher)
    event = IssueEvent.objects.get(issue=issue, action="submit")
    (notice,) = notices_for_step(event)  # a repeated step's mail (a task run twice) makes nothing new
    assert notice.batch.key == f"{issue.pk}-{event.pk}" and notice.batch.kind == "notice"
    assert batch_send_chunk(batch_id=notice.batch_id).claimed == 0
    assert IssueNotice.objects.get().status == "sent" and len(mailoutbox) == 1
    assert mailoutbox[0].extra_headers["Message-ID"].startswith(f"<dgd-notice-b{notice.batch_id}-m{notice.pk}@")


def test_a_step_that_fails_records_no_mail(researcher):
    with pytest.raises(WorkflowError):
        issue_submit(issue=IssueFactory(status=S.DRAFT), by=researcher)  # empty
    assert not IssueNotice.objects.exists()


def test_a_notice_goes_out_once_and_a_failure_is_recorded(researcher, chief_editor, mailoutbox, settings):
    issue = issue_in(S.DRAFT)
    issue_submit(issue=issue, by=researcher)
    notice = IssueNotice.objects.get()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    with pytest.raises(PermissionDenied):
        notice_send(notice_id=notice.pk, by=researcher)  # only who may change the workflow mails
    notice = notice_send(notice_id=notice.pk, by=chief_editor)
    # The relay refused the connection: recorded, and the engine tries again after its backoff by itself.
    assert notice.status == "pending" and "ConnectionRefused" in notice.error
    assert notice.next_attempt_at > timezone.now() and notice.attempts == 1
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notice_send(notice_id=notice.pk, by=chief_editor).status == "sent"
    assert notice_send(notice_id=notice.pk, by=chief_editor).status == "sent"
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [chief_editor.email]
    html = mailoutbox[0].alternatives[0][0]
    assert str(issue).replace("<", "&lt;") in html and "提交审核" in html


# -- the introduction, for 0, 1 and many entries of each kind -----------------------------------------------


def intro_for(issue, entries):
    for position, entry in enumerate(entries):
        IssueEntryFactory(issue=issue, entry=entry, position=position, section=section_for(entry))
    return issue_draft_intro(issue=issue)


@pytest.fixture
def august(db):
    return IssueFactory(year=2022, month=8, status=S.DRAFT, intro="")


def test_the_introduction_of_an_empty_issue_is_empty(august):
    assert intro_for(august, []) == ""


def test_one_provincial_policy_is_not_counted_twice(august):
    text = intro_for(august, [EntryFactory(level=Level.PROVINCIAL)])
    assert text == "《数字政府动态——政务服务分册》8月刊选取省级重要政策1条。"


def test_many_policies_of_several_levels_are_broken_down(august):
    entries = [EntryFactory(level=Level.NATIONAL, issuer="国务院")] + [EntryFactory() for _ in range(3)]
    text = intro_for(august, entries)
    assert text.startswith(
        "《数字政府动态——政务服务分册》8月刊选取国家级、省级重要政策4条，其中国家级重磅政策1条，省级政策3条"
    )


def test_one_theme_reads_without_a_list(august):
    theme = Theme.objects.order_by("position").first()
    entry = EntryFactory()
    entry.themes.set([theme])
    assert intro_for(august, [entry]).endswith(f"重要政策1条，主要聚焦于{theme.name}。")


def test_one_practice_from_one_place(august):
    text = intro_for(august, [PracticeEntryFactory(regions=[320000])])
    assert text == "《数字政府动态——政务服务分册》8月刊选取江苏在数字政府领域的先进做法和地方经验，集成为1条创新实践。"


def test_many_practices_from_several_places(august):
    entries = [PracticeEntryFactory(regions=[code]) for code in (320000, 330000, 320000)]
    text = intro_for(august, entries)
    assert "选取江苏、浙江等地在数字政府领域的先进做法和地方经验，集成为3条创新实践" in text


def test_policies_and_practices_join_with_tongshi(august):
    text = intro_for(august, [EntryFactory(), PracticeEntryFactory(regions=[320000])])
    assert "；同时，选取江苏在数字政府领域" in text and text.count("8月刊") == 1


def test_analyses_are_named_together_once(august):
    one = intro_for(august, [EntryFactory(kind=Kind.ANALYSIS, title="数据要素解读")])
    assert one == (
        "《数字政府动态——政务服务分册》8月刊本期特别收录新点软件数字政府研究院对《数据要素解读》的原创解读，敬请关注。"
    )
    many = intro_for(
        IssueFactory(year=2022, month=9, intro=""),
        [EntryFactory(kind=Kind.ANALYSIS, title=f"解读{n}") for n in range(3)],
    )
    assert many.count("特别收录") == 1 and "《解读0》、《解读1》、《解读2》" in many


def test_briefings_zero_one_many(august):
    assert "热点前瞻" not in intro_for(august, [EntryFactory()])
    one = intro_for(IssueFactory(year=2022, month=9, intro=""), [EntryFactory(kind=Kind.BRIEFING, title="吹风会甲")])
    assert one.endswith("热点前瞻关注吹风会甲。")
    many = intro_for(
        IssueFactory(year=2022, month=10, intro=""),
        [EntryFactory(kind=Kind.BRIEFING, title=f"吹风会{n}") for n in range(3)],
    )
    assert many.endswith("热点前瞻关注吹风会0、吹风会1等。")


# -- a new issue's numbering ------------------------------------------------------------------------------------


def test_the_next_issue_follows_the_latest_of_its_series(db):
    latest = IssueFactory(year=2022, month=12, number=7)
    assert issue_next_numbering(latest.series) == {"year": 2023, "month": 1, "number": 8}
    IssueFactory(series=latest.series, year=2023, month=1, number=8)
    assert issue_next_numbering(latest.series) == {"year": 2023, "month": 2, "number": 9}


def test_a_series_first_issue_is_this_month_number_one(db):
    from issues.models import Series

    series = Series.objects.create(name="新分册", slug="xin")
    today = timezone.localdate()
    assert issue_next_numbering(series) == {"year": today.year, "month": today.month, "number": 1}
