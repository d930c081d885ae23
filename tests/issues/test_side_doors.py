"""No side door around the workflow: history revert, the change forms and spreadsheet imports never change an
issue's workflow state or an entry's ready state; what the chief editor approved is what gets published."""

import pytest
from django.urls import reverse

from issues.models import Issue, IssueEvent, IssueStatus
from issues.workflow import WorkflowError, issue_transition
from policies.models import Entry, GuardedFieldError, Status
from tests.factories import EntryFactory, IssueEntryFactory, IssueFactory

pytestmark = [pytest.mark.django_db]

S = IssueStatus


@pytest.fixture(autouse=True)
def _one_chief_editor(settings):
    """These tests are about side doors, not the second pair of eyes (test_workflow.py): one chief editor
    takes an issue all the way."""
    settings.ISSUES_ALLOW_SELF_APPROVAL = True


def take(issue, by, *actions):
    for action in actions:
        issue, _changed = issue_transition(issue=issue, action=action, by=by)
    return issue


@pytest.fixture
def published(chief_editor):
    issue = IssueFactory(intro="第一稿导读")
    IssueEntryFactory(issue=issue, entry=EntryFactory(title="关于推进政务服务跨省通办的通知"))
    issue.intro = "定稿导读"
    issue.save()
    return take(issue, chief_editor, "submit", "approve", "publish")


def revert_url(model_admin, obj, version):
    return reverse(f"admin:{model_admin}_simple_history", args=[obj.pk, version.history_id])


def issue_form(issue):
    return {"series": issue.series_id, "year": issue.year, "month": issue.month, "number": issue.number}


def test_reverting_a_published_issue_is_refused_and_it_stays_published(client, researcher, published):
    oldest = published.history.order_by("history_id").first()
    assert oldest.status == S.DRAFT
    events = IssueEvent.objects.filter(issue=published).count()
    client.force_login(researcher)
    response = client.post(revert_url("issues_issue", published, oldest), {**issue_form(published), "intro": "x"})
    assert response.status_code == 302
    published.refresh_from_db()
    assert published.status == S.PUBLISHED and published.intro == "定稿导读"
    assert IssueEvent.objects.filter(issue=published).count() == events
    assert client.get(published.get_absolute_url()).status_code == 200
    # the page offers no restore button either
    page = client.get(revert_url("issues_issue", published, oldest)).content.decode()
    assert 'name="_save"' not in page


def test_reverting_an_issue_in_review_is_refused(client, researcher):
    issue = IssueFactory(intro="旧导读")
    IssueEntryFactory(issue=issue)
    draft_version = issue.history.order_by("history_id").first()
    issue.intro = "新导读"
    issue.save()
    issue = take(issue, researcher, "submit")
    client.force_login(researcher)
    response = client.post(revert_url("issues_issue", issue, draft_version), {**issue_form(issue), "intro": "旧导读"})
    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.intro == "新导读"  # what the chief editor reviews does not move under them
    assert issue.status == S.IN_REVIEW


def test_reverting_a_draft_restores_content_not_state(client, researcher, chief_editor):
    issue = IssueFactory(intro="旧导读")
    IssueEntryFactory(issue=issue)
    issue = take(issue, researcher, "submit")
    review_version = issue.history.order_by("-history_id").first()
    assert review_version.status == S.IN_REVIEW
    issue = issue_transition(issue=issue, action="return_to_draft", by=chief_editor, comment="改导读")[0]
    issue.intro = "新导读"
    issue.save()
    client.force_login(researcher)
    response = client.post(revert_url("issues_issue", issue, review_version), {**issue_form(issue), "intro": "旧导读"})
    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.intro == "旧导读"
    assert issue.status == S.DRAFT  # the old version was in review; its state did not come back


@pytest.mark.parametrize(
    "change",
    [{"status": S.DRAFT}, {"status": S.IN_REVIEW}, {"published_at": None}, {"approved_data": None}],
)
def test_no_code_path_outside_the_workflow_saves_a_workflow_field(published, change):
    issue = Issue.objects.get(pk=published.pk)
    for name, value in change.items():
        setattr(issue, name, value)
    with pytest.raises(GuardedFieldError):
        issue.save()
    rebuilt = published.history.order_by("history_id").first().instance  # as a history revert builds it
    rebuilt.intro = "x"
    with pytest.raises(GuardedFieldError):
        rebuilt.save()
    published.refresh_from_db()
    assert published.status == S.PUBLISHED and published.approved_data


def test_an_entry_change_form_cannot_make_it_ready(client, researcher):
    entry = EntryFactory(status=Status.DRAFT)
    client.force_login(researcher)
    url = reverse("admin:policies_policy_change", args=[entry.pk])
    form = {
        "title": entry.title,
        "issuer": entry.issuer,
        "action": "印发",
        "doc_number": "",
        "level": entry.level,
        "published_on": "2022-08-01",
        "summary": "摘要",
        "source_url": "",
        "status": Status.READY,
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    entry.refresh_from_db()
    assert entry.summary == "摘要"
    assert entry.status == Status.DRAFT


def test_reverting_an_entry_keeps_its_ready_state(client, researcher):
    entry = EntryFactory(status=Status.DRAFT, summary="草稿时的摘要")
    draft_version = entry.history.order_by("history_id").first()
    from policies.services import entry_mark_ready

    entry_mark_ready(entries=[entry], by=researcher)
    client.force_login(researcher)
    form = {
        "title": entry.title,
        "issuer": entry.issuer,
        "action": "印发",
        "level": entry.level,
        "published_on": "2022-08-01",
        "summary": "草稿时的摘要",
        "status": Status.DRAFT,
    }
    response = client.post(revert_url("policies_policy", entry, draft_version), form)
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.status == Status.READY


def test_a_sheet_cannot_change_the_ready_state_for_someone_who_may_not_mark_ready(db):
    import tablib
    from django.contrib.auth.models import Permission

    from policies.resources import PolicyResource
    from tests.factories import UserFactory

    entry = EntryFactory(status=Status.DRAFT)
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["add_policy", "change_policy", "view_policy"]))
    exported = PolicyResource().export(queryset=Entry.objects.filter(pk=entry.pk))
    headers = exported.headers
    row = list(exported[0])
    row[headers.index("状态")] = "已就绪"
    result = PolicyResource().import_data(tablib.Dataset(row, headers=headers), dry_run=False, user=staff)
    assert result.has_validation_errors()
    entry.refresh_from_db()
    assert entry.status == Status.DRAFT


# -- what the chief editor approved is what gets published --------------------------------------


def test_an_edit_after_approval_does_not_reach_the_publication(client, researcher, chief_editor):
    entry = EntryFactory(title="批准时的标题")
    issue = IssueFactory()
    IssueEntryFactory(issue=issue, entry=entry)
    issue = take(issue, chief_editor, "submit", "approve")

    Entry.objects.filter(pk=entry.pk).update(title="批准后改的标题")  # any write path; here the plainest
    client.force_login(chief_editor)
    page = client.get(reverse("admin:issues_issue_change", args=[issue.pk])).content.decode()
    assert "批准即冻结内容" in page  # the rule, stated where the chief editor works
    preview = client.get(reverse("issues:preview", args=[issue.pk, "text"])).content.decode()
    assert "批准时的标题" in preview and "批准后改的标题" not in preview

    issue = take(issue, chief_editor, "publish")
    revision = issue.latest_revision()
    titles = [e["title"] for s in revision.data["sections"] for e in s["entries"]]
    assert titles == ["批准时的标题"]
    assert revision.data["status"] == S.PUBLISHED
    assert "批准时的标题" in client.get(issue.get_absolute_url()).content.decode()


def test_sending_back_to_draft_and_approving_again_takes_the_edit(chief_editor):
    entry = EntryFactory(title="批准时的标题")
    issue = IssueFactory()
    IssueEntryFactory(issue=issue, entry=entry)
    issue = take(issue, chief_editor, "submit", "approve")
    Entry.objects.filter(pk=entry.pk).update(title="改过的标题")
    issue, _ = issue_transition(issue=issue, action="return_to_draft", by=chief_editor, comment="标题要改")
    assert issue.approved_data is None
    issue = take(issue, chief_editor, "submit", "approve", "publish")
    titles = [e["title"] for s in issue.latest_revision().data["sections"] for e in s["entries"]]
    assert titles == ["改过的标题"]


def test_an_entry_of_an_approved_issue_says_so_in_its_admin_page(client, researcher, chief_editor):
    entry = EntryFactory()
    issue = IssueFactory()
    IssueEntryFactory(issue=issue, entry=entry)
    take(issue, chief_editor, "submit", "approve")
    client.force_login(researcher)
    page = client.get(reverse("admin:policies_policy_change", args=[entry.pk])).content.decode()
    assert "主编批准的内容就是发布的内容" in page


def test_a_published_issue_cannot_be_deleted_from_the_admin(client, chief_editor, published):
    client.force_login(chief_editor)
    response = client.post(reverse("admin:issues_issue_delete", args=[published.pk]), {"post": "yes"})
    assert response.status_code == 403
    changelist = reverse("admin:issues_issue_changelist")
    data = {"action": "delete_selected", "_selected_action": [published.pk], "post": "yes"}
    assert client.post(changelist, data).status_code == 403
    assert Issue.objects.filter(pk=published.pk, status=S.PUBLISHED).exists()
    assert client.get(published.get_absolute_url()).status_code == 200


def test_an_entry_of_another_issue_cannot_be_added_to_an_issue(client, researcher, chief_editor, published):
    taken = published.items.first().entry
    issue = IssueFactory(year=2023)
    IssueEntryFactory(issue=issue)
    client.force_login(researcher)
    data = {
        **issue_form(issue),
        "intro": "",
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "1",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
        "items-0-id": issue.items.first().pk,
        "items-0-issue": issue.pk,
        "items-0-section": "policies",
        "items-0-entry": issue.items.first().entry_id,
        "items-0-position": "0",
        "items-1-issue": issue.pk,
        "items-1-section": "policies",
        "items-1-entry": taken.pk,
        "items-1-position": "1",
    }
    response = client.post(reverse("admin:issues_issue_change", args=[issue.pk]), data)
    assert response.status_code == 200
    assert "该条目已收入" in response.content.decode()
    assert not issue.items.filter(entry=taken).exists()
    # and a row put there another way is refused by the workflow
    IssueEntryFactory(issue=issue, entry=taken)
    with pytest.raises(WorkflowError, match="已收入其他期刊"):
        issue_transition(issue=issue, action="submit", by=researcher)
    issue.refresh_from_db()
    assert issue.status == S.DRAFT


def test_publishing_an_issue_makes_its_draft_entries_ready_and_says_so(chief_editor):
    entry = EntryFactory(status=Status.DRAFT)
    issue = IssueFactory()
    IssueEntryFactory(issue=issue, entry=entry)
    take(issue, chief_editor, "submit", "approve", "publish")
    entry.refresh_from_db()
    assert entry.status == Status.READY
    latest = entry.history.order_by("-history_id").first()
    assert latest.history_change_reason.startswith("published with") and latest.history_user == chief_editor


def test_a_deleted_entry_is_not_restored_from_its_history(client, researcher, chief_editor):
    entry = EntryFactory()
    version = entry.history.order_by("history_id").first()
    pk = entry.pk
    Entry.objects.filter(pk=pk).delete()
    client.force_login(researcher)
    form = {"title": "复活", "issuer": "某厅", "level": "provincial", "published_on": "2022-08-01"}
    response = client.post(revert_url("policies_policy", Entry(pk=pk), version), form)
    assert response.status_code == 302
    assert not Entry.objects.filter(pk=pk).exists()
    assert client.get(reverse("admin:policies_policy_simple_history", args=[pk, "abc"])).status_code == 404
