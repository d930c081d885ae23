"""Triage: 收录 makes a pre-filled draft entry, 忽略 records a reason, bulk actions, filters, permissions."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from policies.indexing import FULL_TEXT_SEARCHED, search_text
from policies.models import Entry, Kind, Level, Region, Status, Theme
from policies.services import entry_mark_ready
from sources.models import Candidate, CandidateStatus, Decision, Sighting, Source
from sources.services import candidate_take, candidates_ignore, candidates_restore, sources_poll
from tests.factories import EntryFactory, UserFactory
from tests.sources.conftest import grant_inbox

pytestmark = pytest.mark.django_db


def make_candidate(title="浙江省人民政府关于印发《浙江省数字政府建设“十四五”规划》的通知", source=None, **fields):
    defaults = {
        "url": f"https://www.zj.gov.cn/art/{Candidate.objects.count() + 1}.html",
        "published_on": datetime.date(2022, 5, 12),
        "issued_on": datetime.date(2022, 5, 10),
        "issuer": "浙江省人民政府",
        "doc_number": "浙政发〔2022〕20号",
        "level": Level.PROVINCIAL,
        "summary": "为深入贯彻落实党中央、国务院关于加强数字政府建设的决策部署，现提出如下意见。",
    }
    candidate = Candidate.objects.create(title=title, **{**defaults, **fields})
    candidate.regions.set([Region.objects.get(code=330000)])
    candidate.themes.set(Theme.objects.filter(slug__in=["digital-government", "one-network"]))
    source = (
        source
        or Source.objects.get_or_create(url="https://www.zj.gov.cn/col/zcwj/", defaults={"name": "浙江省人民政府"})[0]
    )
    Sighting.objects.create(candidate=candidate, source=source, url=candidate.url, url_key=candidate.url)
    return candidate


def test_take_makes_a_draft_policy_prefilled_from_the_candidate(inbox_researcher):
    candidate = make_candidate()
    entry = candidate_take(candidate=candidate, by=inbox_researcher)
    assert entry.kind == Kind.POLICY and entry.status == Status.DRAFT
    assert entry.title == "浙江省数字政府建设“十四五”规划"  # as the catalogue files a policy: without 《》
    assert entry.issuer == "浙江省人民政府" and entry.action == "印发"
    assert entry.doc_number == "浙政发〔2022〕20号" and entry.level == Level.PROVINCIAL
    assert entry.issued_on == datetime.date(2022, 5, 10) and entry.published_on == datetime.date(2022, 5, 12)
    assert [r.code for r in entry.regions.all()] == [330000]
    assert {t.slug for t in entry.themes.all()} == {"digital-government", "one-network"}
    assert entry.source_url == candidate.url and entry.summary == candidate.summary
    assert entry.history.latest().history_user == inbox_researcher
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.TAKEN and candidate.entry == entry
    assert candidate.decided_by == inbox_researcher and candidate.decided_at is not None
    decision = Decision.objects.get(candidate=candidate)
    assert decision.action == "taken" and decision.by == inbox_researcher and decision.entry == entry
    with pytest.raises(ValidationError):
        candidate_take(candidate=candidate, by=inbox_researcher)
    assert Entry.objects.count() == 1


@pytest.mark.parametrize("role", ["sales", "plain_researcher"])
def test_take_and_ignore_are_refused_without_the_permissions(role):
    user = UserFactory(role="sales") if role == "sales" else UserFactory(role="researcher")
    if role == "plain_researcher":  # may triage, but not add policies
        user = grant_inbox(user)
        user.groups.clear()
        user = type(user).objects.get(pk=user.pk)
    candidate = make_candidate()
    with pytest.raises(PermissionDenied):
        candidate_take(candidate=candidate, by=user)
    if role == "sales":
        with pytest.raises(PermissionDenied):
            candidates_ignore(candidates=[candidate], reason="无关", by=user)
    assert Entry.objects.count() == 0 and Decision.objects.count() == 0
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.NEW


def test_ignore_needs_a_reason_is_recorded_and_can_be_undone(inbox_researcher):
    first, second = make_candidate(), make_candidate(title="关于某事的通知", doc_number="")
    with pytest.raises(ValidationError):
        candidates_ignore(candidates=[first], reason="  ", by=inbox_researcher)
    assert candidates_ignore(candidates=[first, second], reason="与数字政府无关", by=inbox_researcher) == 2
    first.refresh_from_db()
    assert first.status == CandidateStatus.IGNORED and first.ignore_reason == "与数字政府无关"
    assert first.decided_by == inbox_researcher
    assert Decision.objects.filter(action="ignored", reason="与数字政府无关").count() == 2
    assert candidates_restore(candidates=[first], by=inbox_researcher) == 1
    first.refresh_from_db()
    assert first.status == CandidateStatus.NEW and first.ignore_reason == ""


def test_the_take_button_opens_the_prefilled_draft(client, inbox_researcher):
    candidate = make_candidate()
    client.force_login(inbox_researcher)
    page = client.get(reverse("admin:sources_candidate_change", args=[candidate.pk]))
    assert page.status_code == 200
    assert reverse("admin:sources_candidate_take", args=[candidate.pk]) in page.content.decode()
    response = client.post(reverse("admin:sources_candidate_take", args=[candidate.pk]))
    entry = Entry.objects.get()
    assert response.status_code == 302 and response["Location"] == entry.get_admin_url()
    form = client.get(response["Location"])
    assert form.status_code == 200 and "浙政发〔2022〕20号" in form.content.decode()


def test_take_refuses_a_get(client, inbox_researcher):
    candidate = make_candidate()
    client.force_login(inbox_researcher)
    assert client.get(reverse("admin:sources_candidate_take", args=[candidate.pk])).status_code == 405
    assert Entry.objects.count() == 0


def test_ignore_from_the_candidate_page_goes_on_to_the_next(client, inbox_researcher):
    older = make_candidate(title="关于甲的通知", doc_number="", published_on=datetime.date(2022, 1, 1))
    newer = make_candidate(title="关于乙的通知", doc_number="", published_on=datetime.date(2022, 6, 1))
    client.force_login(inbox_researcher)
    response = client.post(reverse("admin:sources_candidate_ignore", args=[newer.pk]), {"reason": "非政策文件"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:sources_candidate_change", args=[older.pk])
    newer.refresh_from_db()
    assert newer.status == CandidateStatus.IGNORED and newer.ignore_reason == "非政策文件"


def test_bulk_actions_from_the_queue(client, inbox_researcher):
    a = make_candidate(title="关于甲的通知", doc_number="")
    b = make_candidate(title="关于乙的通知", doc_number="")
    c = make_candidate(title="关于丙的通知", doc_number="")
    client.force_login(inbox_researcher)
    url = reverse("admin:sources_candidate_changelist")
    client.post(url, {"action": "ignore_selected", "_selected_action": [a.pk, b.pk], "reason": "重复"})
    assert set(Candidate.objects.filter(status="ignored").values_list("pk", flat=True)) == {a.pk, b.pk}
    response = client.post(url, {"action": "take_selected", "_selected_action": [c.pk]})
    assert response.status_code == 302 and response["Location"] == Entry.objects.get().get_admin_url()
    client.post(url + "?status=all", {"action": "restore_selected", "_selected_action": [a.pk]})
    a.refresh_from_db()
    assert a.status == CandidateStatus.NEW


def test_the_queue_is_sorted_by_date_and_filters(client, inbox_researcher, django_assert_max_num_queries):
    entry = EntryFactory(title="关于深化数字政府建设的实施意见")
    jiangsu = Source.objects.create(name="江苏省人民政府", url="https://www.jiangsu.gov.cn/col/")
    old = make_candidate(title="关于甲的通知", doc_number="", published_on=datetime.date(2021, 1, 1))
    new = make_candidate(title="关于乙的通知", doc_number="", published_on=datetime.date(2022, 9, 1))
    duplicate = make_candidate(
        title="关于深化数字政府建设的实施意见", status=CandidateStatus.DUPLICATE, duplicate_of=entry, source=jiangsu
    )
    duplicate.regions.set([Region.objects.get(code=320000)])
    ignored = make_candidate(title="关于丁的通知", doc_number="", status=CandidateStatus.IGNORED)
    client.force_login(inbox_researcher)
    url = reverse("admin:sources_candidate_changelist")
    with django_assert_max_num_queries(16):
        page = client.get(url).content.decode()
    assert page.index("关于乙的通知") < page.index("关于甲的通知")  # newest first
    assert "关于丁的通知" not in page  # the queue shows what is still to triage
    assert entry.get_admin_url() in page  # the duplicate links its entry
    assert str(ignored) in client.get(url + "?status=ignored").content.decode()

    def titles(query):
        return {c.title for c in client.get(url + query).context["cl"].result_list}

    assert titles("?status=duplicate") == {duplicate.title}
    assert titles("?province=320000") == {duplicate.title}
    assert titles(f"?source={jiangsu.pk}") == {duplicate.title}
    assert titles("?level=provincial") == {old.title, new.title, duplicate.title}
    theme = Theme.objects.get(slug="one-network")
    assert titles(f"?themes__id__exact={theme.pk}") == {old.title, new.title, duplicate.title}


def test_sales_and_anonymous_cannot_open_the_inbox(client, sales):
    candidate = make_candidate()
    assert client.get(reverse("admin:sources_candidate_changelist")).status_code == 302
    client.force_login(sales)
    assert client.post(reverse("admin:sources_candidate_take", args=[candidate.pk])).status_code == 302
    assert Entry.objects.count() == 0


def test_staff_who_may_only_look_are_refused_by_the_service(client):
    from django.contrib.auth.models import Permission

    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="sources", codename="view_candidate"))
    candidate = make_candidate()
    client.force_login(user)
    assert client.get(reverse("admin:sources_candidate_change", args=[candidate.pk])).status_code == 200
    assert client.post(reverse("admin:sources_candidate_take", args=[candidate.pk])).status_code == 403
    response = client.post(reverse("admin:sources_candidate_ignore", args=[candidate.pk]), {"reason": "无关"})
    assert response.status_code == 403
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.NEW and Entry.objects.count() == 0


def test_a_phrase_only_in_the_originals_body_finds_the_taken_entry_in_the_library(
    site, inbox_researcher, client, django_capture_on_commit_callbacks
):
    """收录 keeps the detail page's main text on the entry; once ready, the library's search reads it."""
    paragraphs = [
        "各市、县（市、区）人民政府，省政府直属各单位：",
        "为深入贯彻落实党中央、国务院关于加强数字政府建设的决策部署，加快推进数字化改革，现提出如下实施意见。",
        "一、总体要求。坚持整体智治，推动政府履职全面数字化，打造一网通办升级版。",
        "二、主要任务。推进数据资源共享，深化营商环境改革。",
        "三、保障措施。建立“浙里办”适老化改造专班，按季度通报进展。",  # only here: not in the title or summary
    ]
    site.rss("/rss.xml", [("浙江省人民政府关于深化数字政府建设的实施意见", site.url("/art/1.html"), "2022-05-12")])
    site.detail("/art/1.html", title="浙江省人民政府关于深化数字政府建设的实施意见", paragraphs=paragraphs)
    source = Source.objects.create(name="浙江省人民政府", url=site.url("/rss.xml"), kind="feed")
    sources_poll(source_ids=[source.pk])
    entry = candidate_take(candidate=Candidate.objects.get(), by=inbox_researcher)
    assert "适老化改造专班" in entry.full_text and "适老化改造专班" not in entry.summary + entry.title
    client.force_login(UserFactory(role="sales"))
    assert "深化数字政府建设" not in client.get("/library/", {"q": "适老化改造专班"}).content.decode()  # a draft
    with django_capture_on_commit_callbacks(execute=True):
        entry_mark_ready(entries=Entry.objects.filter(pk=entry.pk), by=UserFactory(role="chief_editor"))
    for query in ("适老化改造专班", "浙里办 按季度通报"):
        results = client.get("/library/", {"q": query}).context["results"].entries
        assert [found.pk for found in results] == [entry.pk], query
    assert not client.get("/library/", {"q": "适老化改造专班撤销"}).context["results"].entries


def test_only_the_opening_of_a_full_text_is_searched():
    tail = "末尾才出现的词组"
    text = search_text(title="标题", issuer="", summary="", doc_number="", full_text="正文" * 2000 + tail)
    assert text.startswith("标题正文") and tail not in text and len(text) == 2 + FULL_TEXT_SEARCHED
