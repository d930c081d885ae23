"""The issue's admin page: the workflow buttons each role sees, and what pressing them does."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from issues.models import Issue, IssueNotice, IssueStatus
from issues.services import issue_draft_intro
from tests.factories import EntryFactory, IssueEntryFactory, IssueFactory, UserFactory
from tests.issues.formdata import form_data

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


# -- one form: a workflow button saves the change form first ---------------------------------------------


@pytest.fixture
def draft(db):
    issue = IssueFactory(status=S.DRAFT, intro="旧的导读")
    IssueEntryFactory(issue=issue)
    return issue


def press(client, issue, action, **changes):
    """Press a workflow button of the change form, as a browser does: the whole form, plus the button."""
    data = form_data(client.get(change_url(issue)).content.decode(), "issue_form")
    data.update(changes)
    data["_workflow"] = action
    return client.post(change_url(issue), data, follow=True)


def test_an_edit_of_the_introduction_then_submit_keeps_the_edit(client, researcher, draft):
    client.force_login(researcher)
    response = press(client, draft, "submit", intro="编辑刚改好的导读")
    draft.refresh_from_db()
    assert draft.intro == "编辑刚改好的导读"
    assert draft.status == S.IN_REVIEW
    assert "已提交审核" in response.content.decode() or "审核中" in response.content.decode()


def test_a_form_with_errors_takes_no_step_and_shows_them(client, researcher, draft):
    client.force_login(researcher)
    response = press(client, draft, "submit", year="", intro="未保存的导读")
    page = response.content.decode()
    draft.refresh_from_db()
    assert draft.status == S.DRAFT and draft.intro == "旧的导读"
    assert "errorlist" in page
    assert "未执行任何操作" in page


def test_a_step_without_changes_leaves_no_empty_version(client, chief_editor, in_review):
    client.force_login(chief_editor)
    versions = in_review.history.count()
    press(client, in_review, "approve")
    in_review.refresh_from_db()
    assert in_review.status == S.APPROVED
    assert in_review.history.count() == versions + 1  # the workflow's own save, no "changed nothing" version


def test_sending_back_from_the_form_needs_and_keeps_the_reason(client, chief_editor, in_review):
    client.force_login(chief_editor)
    press(client, in_review, "return_to_draft")
    in_review.refresh_from_db()
    assert in_review.status == S.IN_REVIEW  # no reason given: refused
    press(client, in_review, "return_to_draft", workflow_comment="请补充导读")
    in_review.refresh_from_db()
    assert in_review.status == S.DRAFT
    assert in_review.events.last().comment == "请补充导读"


def test_the_buttons_belong_to_the_change_form(client, researcher, draft):
    client.force_login(researcher)
    page = client.get(change_url(draft)).content.decode()
    assert 'form="issue_form" class="button default" name="_workflow" value="submit"' in page
    assert 'form="issue_form" class="button" name="_workflow" value="assemble"' in page


# -- confirmations ----------------------------------------------------------------------------------------


def test_redrafting_a_hand_written_introduction_asks_first(client, researcher, draft):
    client.force_login(researcher)
    response = press(client, draft, "regenerate_intro", intro="编辑亲手写的导读")
    page = response.content.decode()
    draft.refresh_from_db()
    assert draft.intro == "编辑亲手写的导读"  # saved, not yet replaced
    assert 'id="overwrite-warning"' in page and "编辑亲手写的导读" in page
    client.post(step_url(draft, "regenerate_intro"))  # without the confirmation: asked again, nothing replaced
    draft.refresh_from_db()
    assert draft.intro == "编辑亲手写的导读"
    client.post(step_url(draft, "regenerate_intro"), {"confirmed": "1"})
    draft.refresh_from_db()
    assert draft.intro == issue_draft_intro(issue=draft) != "编辑亲手写的导读"


def test_redrafting_an_empty_or_drafted_introduction_does_not_ask(client, researcher, draft):
    client.force_login(researcher)
    press(client, draft, "regenerate_intro", intro="")
    draft.refresh_from_db()
    drafted = issue_draft_intro(issue=draft)
    assert draft.intro == drafted
    response = press(client, draft, "regenerate_intro")
    assert 'id="overwrite-warning"' not in response.content.decode()


def test_publish_and_schedule_go_through_the_confirmation_page(client, chief_editor):
    issue = IssueFactory(status=S.APPROVED)
    IssueEntryFactory(issue=issue)
    client.force_login(chief_editor)
    page = client.get(change_url(issue)).content.decode()
    confirm = reverse("admin:subscribers_delivery_confirm_publication", args=[issue.pk, "publish"])
    assert f'id="dgd-publish-form" action="{confirm}"' in page
    response = client.get(confirm)
    assert 'id="publication-recipients"' in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == S.APPROVED


# -- read-only from review on ---------------------------------------------------------------------------


def test_an_issue_in_review_is_read_only_and_cannot_be_assembled(client, researcher, in_review):
    client.force_login(researcher)
    page = client.get(change_url(in_review)).content.decode()
    assert 'name="intro"' not in page
    assert 'value="assemble"' not in page
    assert 'id="content-locked"' in page
    before = in_review.items.count()
    EntryFactory(published_on=datetime.date(in_review.year, in_review.month, 3))
    response = client.post(step_url(in_review, "assemble"), follow=True)
    assert "只有草稿可以修改" in response.content.decode()
    assert in_review.items.count() == before


# -- view on site, defaults ---------------------------------------------------------------------------------


def test_view_on_site_opens_the_preview_until_published(client, researcher, draft, imported_sample):
    client.force_login(researcher)
    page = client.get(change_url(draft)).content.decode()
    assert reverse("issues:preview", args=[draft.pk]) in page
    assert client.get(reverse("issues:preview", args=[draft.pk])).status_code == 200
    page = client.get(change_url(imported_sample)).content.decode()
    assert imported_sample.get_absolute_url() in page


def test_a_new_issue_defaults_to_the_next_of_its_series(client, researcher):
    latest = IssueFactory(year=2022, month=12, number=7)
    IssueFactory(series=latest.series, year=2022, month=11, number=6)
    client.force_login(researcher)
    data = form_data(client.get(reverse("admin:issues_issue_add")).content.decode(), "issue_form")
    assert (data["series"], data["year"], data["month"], data["number"]) == (str(latest.series.pk), "2023", "1", "8")


# -- the staff start page ---------------------------------------------------------------------------------


@pytest.mark.embedded  # the admin's first page under `make run`, on SQLite
def test_the_start_page_lists_what_waits_for_me(client, researcher, chief_editor):
    from issues.workflow import issue_submit

    mine = IssueFactory(status=S.DRAFT, year=2030, month=1, number=301)
    IssueEntryFactory(issue=mine)
    Issue.history.filter(id=mine.pk).update(history_user=researcher)  # the researcher created it
    other = IssueFactory(status=S.DRAFT, year=2030, month=2, number=302)
    IssueEntryFactory(issue=other)
    issue_submit(issue=other, by=researcher)
    client.force_login(researcher)
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="start-drafts"' in page and str(mine) in page
    assert 'id="start-review"' not in page  # a researcher approves nothing
    client.force_login(chief_editor)
    page = client.get(reverse("admin:index")).content.decode()
    review = page.split('id="start-review"')[1].split("</section>")[0]
    assert str(other) in review
    assert 'id="start-ready"' in page and 'id="start-published"' not in page


def test_the_admin_links_the_library_and_the_site(client, researcher):
    client.force_login(researcher)
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="library-link"' in page and reverse("library:index") in page
    assert "数字政府动态 · 管理后台" in page


# -- self-approval and notices -------------------------------------------------------------------------------


def test_a_chief_editor_cannot_approve_what_they_submitted(client, chief_editor, draft, settings):
    settings.ISSUES_ALLOW_SELF_APPROVAL = False
    client.force_login(chief_editor)
    press(client, draft, "submit")
    page = client.get(change_url(draft)).content.decode()
    assert 'data-action="approve"' not in page and 'id="self-approval"' in page
    response = client.post(step_url(draft, "approve"), follow=True)
    assert "另一位主编" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == S.IN_REVIEW
    settings.ISSUES_ALLOW_SELF_APPROVAL = True
    client.post(step_url(draft, "approve"))
    draft.refresh_from_db()
    assert draft.status == S.APPROVED


def test_submitting_mails_the_chief_editors_and_approval_mails_the_author(
    client, researcher, chief_editor, draft, mailoutbox, eager_celery, django_capture_on_commit_callbacks
):
    second_chief = UserFactory(role="chief_editor")
    client.force_login(researcher)
    with django_capture_on_commit_callbacks(execute=True):
        press(client, draft, "submit")
    assert sorted(m.to[0] for m in mailoutbox) == sorted([chief_editor.email, second_chief.email])
    assert str(draft) in mailoutbox[0].subject and "提交审核" in mailoutbox[0].subject
    assert reverse("admin:issues_issue_change", args=[draft.pk]) in mailoutbox[0].body
    assert mailoutbox[0].alternatives[0][1] == "text/html"
    client.force_login(chief_editor)
    with django_capture_on_commit_callbacks(execute=True):
        press(client, draft, "approve")
    assert mailoutbox[-1].to == [researcher.email] and "已批准" in mailoutbox[-1].subject
    assert IssueNotice.objects.filter(status="sent").count() == 3


def test_the_workflow_mails_list_costs_the_same_queries_for_one_issue_or_many(
    client, researcher, chief_editor, eager_celery, django_capture_on_commit_callbacks
):
    from issues.workflow import issue_submit

    def submit_one(number):
        issue = IssueFactory(year=2030, month=number, number=300 + number)
        IssueEntryFactory(issue=issue, entry=EntryFactory())
        with django_capture_on_commit_callbacks(execute=True):
            issue_submit(issue=issue, by=researcher)
        return issue

    client.force_login(chief_editor)
    url = reverse("admin:issues_issuenotice_changelist")
    first = submit_one(1)
    client.get(url)  # warm: session, permissions, content types
    with CaptureQueriesContext(connection) as one:
        response = client.get(url)
    assert str(first) in response.content.decode()
    others = [submit_one(n) for n in range(2, 6)]
    with CaptureQueriesContext(connection) as five:
        response = client.get(url)
    page = response.content.decode()
    assert all(str(issue) in page for issue in [first, *others])
    assert len(five) == len(one)  # the issues come in one query, not one per row


# -- signing in to the admin ------------------------------------------------------------------------------------


def test_a_user_put_in_a_staff_role_group_can_sign_in_to_the_admin(client):
    from django.contrib.auth.models import Group

    from tests.factories import PASSWORD

    user = UserFactory(is_staff=False)
    Group.objects.get(name="研究员").user_set.add(user)  # as the group's admin page does it
    user.refresh_from_db()
    assert user.is_staff
    login = reverse("admin:login") + "?next=/admin/"
    response = client.post(login, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    user.groups.clear()
    user.groups.set([Group.objects.get(name="主编")])
    user.refresh_from_db()
    assert user.is_staff
    user.groups.set([Group.objects.get(name="销售")])
    user.refresh_from_db()
    assert not user.is_staff  # left the last staff role: sales use the library, not the admin


def test_an_older_account_in_a_role_group_is_let_in(client):
    from django.contrib.auth.models import Group

    from tests.factories import PASSWORD

    user = UserFactory(is_staff=False)
    group = Group.objects.get(name="研究员")
    membership = type(user).groups.through
    membership.objects.bulk_create([membership(user_id=user.pk, group_id=group.pk)])  # no signal: an older account
    user.refresh_from_db()
    assert not user.is_staff
    response = client.post(reverse("admin:login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.is_staff


def test_a_sales_user_is_told_in_chinese_why_the_admin_is_closed(client, sales):
    from tests.factories import PASSWORD

    response = client.post(reverse("admin:login"), {"username": sales.username, "password": PASSWORD})
    page = response.content.decode()
    assert response.status_code == 200
    assert "不属于任何工作人员角色" in page and reverse("login") in page
    wrong = client.post(reverse("admin:login"), {"username": sales.username, "password": "wrong-password"})
    assert "不属于任何工作人员角色" not in wrong.content.decode()  # only the right password learns why
