"""The issue's admin page: the workflow buttons each role sees, and what pressing them does."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from issues.models import IssueStatus
from tests.factories import EntryFactory, IssueEntryFactory, IssueFactory

pytestmark = [pytest.mark.django_db]

S = IssueStatus


def change_url(issue):
    return reverse("admin:issues_issue_change", args=[issue.pk])


def step_url(issue, action):
    return reverse("admin:issues_issue_workflow", args=[issue.pk, action])


@pytest.fixture
def in_review(db):
    issue = IssueFactory(status=S.IN_REVIEW)
    IssueEntryFactory(issue=issue)
    return issue


def test_each_role_sees_only_the_steps_it_may_take(client, researcher, chief_editor, in_review):
    client.force_login(researcher)
    page = client.get(change_url(in_review)).content.decode()
    assert 'data-action="approve"' not in page and 'data-action="return_to_draft"' not in page
    client.force_login(chief_editor)
    page = client.get(change_url(in_review)).content.decode()
    assert 'data-action="approve"' in page and 'data-action="return_to_draft"' in page
    assert 'data-action="publish"' not in page  # not from review: approve first


def test_a_refused_step_says_why_and_changes_nothing(client, researcher, in_review):
    client.force_login(researcher)
    response = client.post(step_url(in_review, "approve"), follow=True)
    assert "您无权执行此操作：批准。" in response.content.decode()
    in_review.refresh_from_db()
    assert in_review.status == S.IN_REVIEW


def test_steps_are_posts(client, chief_editor, in_review):
    client.force_login(chief_editor)
    assert client.get(step_url(in_review, "approve")).status_code == 405
    in_review.refresh_from_db()
    assert in_review.status == S.IN_REVIEW


def test_the_chief_editor_approves_schedules_in_shanghai_time_and_publishes(client, chief_editor, in_review):
    client.force_login(chief_editor)
    client.post(step_url(in_review, "approve"))
    in_review.refresh_from_db()
    assert in_review.status == S.APPROVED
    when = (datetime.datetime.now(ZoneInfo("Asia/Shanghai")) + datetime.timedelta(days=1)).replace(
        hour=9, minute=30, second=0, microsecond=0
    )
    client.post(step_url(in_review, "schedule"), {"publish_at": when.strftime("%Y-%m-%dT%H:%M")})
    in_review.refresh_from_db()
    assert in_review.status == S.SCHEDULED
    assert in_review.publish_at == when
    assert in_review.publish_at.astimezone(datetime.UTC).hour == 1  # 09:30 in Shanghai is 01:30 UTC
    client.post(step_url(in_review, "publish"))
    client.post(step_url(in_review, "publish"))  # a double click
    in_review.refresh_from_db()
    assert in_review.status == S.PUBLISHED
    assert in_review.revisions.count() == 1


def test_a_malformed_or_past_time_is_refused(client, chief_editor):
    issue = IssueFactory(status=S.APPROVED)
    client.force_login(chief_editor)
    for value in ("tomorrow", "2020-01-01T09:00"):
        response = client.post(step_url(issue, "schedule"), {"publish_at": value}, follow=True)
        assert response.status_code == 200
        issue.refresh_from_db()
        assert issue.status == S.APPROVED and issue.publish_at is None


def test_sending_back_to_draft_records_the_comment(client, chief_editor, in_review):
    client.force_login(chief_editor)
    client.post(step_url(in_review, "return_to_draft"), {"comment": "请补充导读"})
    in_review.refresh_from_db()
    assert in_review.status == S.DRAFT
    page = client.get(change_url(in_review)).content.decode()
    assert "请补充导读" in page  # the audit trail on the issue page


def test_assemble_button_pulls_in_ready_entries(client, researcher):
    issue = IssueFactory(year=2022, month=8, status=S.DRAFT)
    EntryFactory(title="八月的就绪政策", published_on=datetime.date(2022, 8, 5))
    client.force_login(researcher)
    client.post(step_url(issue, "assemble"))
    assert list(issue.entries.values_list("title", flat=True)) == ["八月的就绪政策"]


def test_a_published_issue_page_is_read_only(client, chief_editor, imported_sample):
    client.force_login(chief_editor)
    page = client.get(change_url(imported_sample)).content.decode()
    assert 'name="intro"' not in page  # no editable introduction
    assert 'data-action="' not in page  # no workflow step left
    assert "_revise" in page  # but a corrected revision may be published
    response = client.post(step_url(imported_sample, "revise"), {"comment": "更正 2.1 摘要"}, follow=True)
    assert imported_sample.revisions.count() == 2
    assert "更正 2.1 摘要" in response.content.decode()
    assert client.post(step_url(imported_sample, "assemble"), follow=True).status_code == 200
    assert imported_sample.items.count() == 31


def test_every_preview_link_is_offered(client, researcher, in_review):
    client.force_login(researcher)
    page = client.get(change_url(in_review)).content.decode()
    for rendition in ("pdf", "text", "json"):
        assert reverse("issues:preview", args=[in_review.pk, rendition]) in page
