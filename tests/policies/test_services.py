import pytest
from django.core.exceptions import PermissionDenied

from policies.models import Entry, Status, Theme
from policies.services import entry_apply_suggested_themes, entry_mark_ready, theme_suggestions
from tests.factories import EntryFactory, PracticeEntryFactory

pytestmark = [pytest.mark.django_db]


def statuses(entries):
    return [Entry.objects.get(pk=entry.pk).status for entry in entries]


def test_sales_may_not_mark_entries_ready_and_nothing_changes(sales):
    drafts = [EntryFactory(status=Status.DRAFT), PracticeEntryFactory(status=Status.DRAFT)]
    versions = Entry.history.count()
    with pytest.raises(PermissionDenied):
        entry_mark_ready(entries=drafts, by=sales)
    assert statuses(drafts) == [Status.DRAFT, Status.DRAFT]
    assert Entry.history.count() == versions


def test_a_researcher_marks_drafts_ready_and_leaves_ready_entries_alone(researcher):
    drafts = [EntryFactory(status=Status.DRAFT), PracticeEntryFactory(status=Status.DRAFT)]
    ready = EntryFactory(status=Status.READY)
    untouched = EntryFactory(status=Status.DRAFT)
    updated_at = Entry.objects.get(pk=ready.pk).updated_at

    assert entry_mark_ready(entries=[*drafts, ready], by=researcher) == 2

    assert statuses(drafts) == [Status.READY, Status.READY]
    assert Entry.objects.get(pk=ready.pk).updated_at == updated_at
    assert statuses([untouched]) == [Status.DRAFT]
    assert entry_mark_ready(entries=drafts, by=researcher) == 0  # a second run changes nothing


def test_marking_ready_records_a_history_row_with_its_reason(researcher):
    draft = EntryFactory(status=Status.DRAFT)
    before = Entry.history.filter(id=draft.pk).count()
    entry_mark_ready(entries=[draft], by=researcher)
    history = Entry.objects.get(pk=draft.pk).history.all()
    assert history.count() == before + 1
    latest = history.first()
    assert latest.history_type == "~"
    assert latest.status == Status.READY
    assert latest.history_change_reason == "marked ready"
    assert history[1].status == Status.DRAFT


def test_suggested_themes_are_added_from_the_keyword_rules():
    entry = EntryFactory(
        title="关于推动电子证照扩大应用领域和全国互通互认的意见",
        issuer="国务院办公厅",
        summary="推进电子证照在政务服务中“跨省通办”。",
        themes=["regulation"],
    )
    added = entry_apply_suggested_themes(entry=entry)
    slugs = set(entry.themes.values_list("slug", flat=True))
    assert {"e-licence", "cross-province", "data-sharing"} <= slugs
    assert "regulation" in slugs  # staff's own choice stays
    assert "social-assistance" not in slugs
    assert {t.slug for t in added} == slugs - {"regulation"}


def test_applying_suggestions_twice_adds_nothing_the_second_time():
    entry = EntryFactory(title="全面推行“一网通办”", summary="")
    assert [t.slug for t in entry_apply_suggested_themes(entry=entry)] == ["one-network"]
    assert entry_apply_suggested_themes(entry=entry) == []
    assert list(entry.themes.values_list("slug", flat=True)) == ["one-network"]


def test_a_theme_already_present_is_not_suggested_again():
    entry = EntryFactory(title="全面推行“一网通办”和“跨省通办”", summary="", themes=["one-network"])
    assert [t.slug for t in entry_apply_suggested_themes(entry=entry)] == ["cross-province"]


def test_an_entry_with_no_keyword_gets_no_theme():
    entry = EntryFactory(title="关于召开年度工作会议的通知", issuer="某某办公室", summary="会议安排。")
    assert entry_apply_suggested_themes(entry=entry) == []
    assert not entry.themes.exists()


def test_new_keywords_staff_add_take_effect():
    theme = Theme.objects.get(slug="grassroots")
    assert theme not in theme_suggestions(text="推进乡镇便民服务中心标准化")
    theme.keywords += "\n便民服务中心"
    theme.save()
    assert theme in theme_suggestions(text="推进乡镇便民服务中心标准化")
