"""``publish_issue --as USER`` takes the whole way to published or none of it."""

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command

from issues.models import IssueStatus
from issues.signals import issue_published
from tests.factories import IssueEntryFactory, IssueFactory, UserFactory

pytestmark = [pytest.mark.django_db]

S = IssueStatus


def issue_in(status):
    issue = IssueFactory(status=status)
    IssueEntryFactory(issue=issue)
    return issue


@pytest.fixture
def published_ids():
    received = []

    def receiver(sender, issue_id, **kwargs):
        received.append(issue_id)

    issue_published.connect(receiver)
    yield received
    issue_published.disconnect(receiver)


def user_with(*codenames):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="issues", codename__in=codenames))
    return user


@pytest.mark.parametrize("status", [S.DRAFT, S.IN_REVIEW, S.APPROVED])
def test_a_researcher_is_refused_before_any_step_and_the_issue_is_unchanged(
    researcher, status, published_ids, django_capture_on_commit_callbacks
):
    issue = issue_in(status)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(CommandError) as refused:
        call_command("publish_issue", str(issue.pk), "--as", researcher.username)
    assert "approve: " in str(refused.value) or "publish: " in str(refused.value)
    issue.refresh_from_db()
    assert issue.status == status
    assert not issue.events.exists()
    assert not issue.revisions.exists()
    assert published_ids == []


def test_a_user_who_may_submit_and_approve_but_not_publish_takes_no_step(published_ids):
    issue = issue_in(S.DRAFT)
    user = user_with("submit_issue", "approve_issue")
    with pytest.raises(CommandError, match=r"^publish: "):
        call_command("publish_issue", str(issue.pk), "--as", user.username)
    issue.refresh_from_db()
    assert issue.status == S.DRAFT
    assert not issue.events.exists()


def test_a_dry_run_is_refused_the_same_way(researcher):
    issue = issue_in(S.DRAFT)
    with pytest.raises(CommandError, match=r"^approve: "):
        call_command("publish_issue", str(issue.pk), "--as", researcher.username, "--dry-run")
    assert not issue.events.exists()


def test_a_failing_first_step_changes_nothing(chief_editor):
    issue = IssueFactory(status=S.DRAFT)  # empty: it cannot be submitted
    with pytest.raises(CommandError, match=r"^submit: "):
        call_command("publish_issue", str(issue.pk), "--as", chief_editor.username)
    issue.refresh_from_db()
    assert issue.status == S.DRAFT
    assert not issue.events.exists()


def test_from_draft_a_chief_editor_is_refused_at_approving_what_they_submitted(chief_editor, published_ids):
    issue = issue_in(S.DRAFT)
    with pytest.raises(CommandError, match="approve") as refused:
        call_command("publish_issue", str(issue.pk), "--as", chief_editor.username)
    assert "Nothing was done" in str(refused.value)
    issue.refresh_from_db()
    assert issue.status == S.DRAFT and not issue.events.exists()  # the submit before it was undone too
    assert published_ids == []


def test_a_chief_editor_publishes_from_draft_and_subscribers_hear_once(
    chief_editor, published_ids, django_capture_on_commit_callbacks, settings
):
    settings.ISSUES_ALLOW_SELF_APPROVAL = True  # where the institute allows one person to take every step
    issue = issue_in(S.DRAFT)
    call_command("publish_issue", str(issue.pk), "--as", chief_editor.username, "--dry-run")
    issue.refresh_from_db()
    assert issue.status == S.DRAFT
    with django_capture_on_commit_callbacks(execute=True):
        call_command("publish_issue", str(issue.pk), "--as", chief_editor.username)
    issue.refresh_from_db()
    assert issue.status == S.PUBLISHED
    assert list(issue.events.order_by("pk").values_list("action", flat=True)) == ["submit", "approve", "publish"]
    assert published_ids == [issue.pk]
