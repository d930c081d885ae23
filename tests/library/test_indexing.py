"""The index tables stay in step with the catalogue through ``entries_reindex``, whatever writes."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from policies.indexing import entries_reindex, index_tokens, query_tokens
from policies.models import CatalogueRegion, CatalogueRegionTheme, CatalogueRow, CatalogueTheme, Entry, Theme
from tests.factories import EntryFactory
from tests.library.conftest import indexed


def region_rows(entry):
    return set(CatalogueRegion.objects.filter(entry=entry).values_list("region_id", "is_province"))


@pytest.mark.embedded
def test_the_index_holds_every_two_character_run_of_the_normalised_text_and_queries_keep_domain_terms_whole():
    text = "推进许可证照和**电子证照**、一网通办，身份证照片"
    tokens = index_tokens(text)
    runs = "推进许可证照和电子证照一网通办身份证照片"
    assert tokens == {runs[i : i + 2] for i in range(len(runs) - 1)} | {"片"}
    assert {"证照", "照一", "办身", "照片"} <= tokens  # across the punctuation too
    assert query_tokens("一网通办") == ["一网通办"]
    assert query_tokens("跨省通办 江苏") == ["跨省通办", "江苏"]
    assert query_tokens("证照") == ["证照"]
    assert query_tokens("!!!") == []


@pytest.mark.embedded
def test_an_entry_is_searched_in_its_normalised_issuer_title_summary_and_document_number(db):
    entry = indexed(
        EntryFactory(
            title="江苏省政务服务“免证办”实施方案",
            issuer="江苏省人民政府办公厅",
            summary="推进**免证办**。",
            doc_number="苏政办发〔2022〕55号",
        )
    )
    row = CatalogueRow.objects.get(entry=entry)
    assert row.search_text == "江苏省人民政府办公厅江苏省政务服务免证办实施方案推进免证办苏政办发202255号"
    Entry.objects.filter(pk=entry.pk).update(doc_number="苏政办发〔2023〕1号")
    entries_reindex(entry_ids=[entry.pk])
    assert CatalogueRow.objects.get(entry=entry).search_text.endswith("苏政办发20231号")


@pytest.mark.embedded
def test_a_ready_entry_is_indexed_with_its_regions_expanded_and_its_themes(db, kunshan):
    entry = EntryFactory(regions=[kunshan.code, 330000], themes=["cross-province", "e-licence"])
    assert entries_reindex(entry_ids=[entry.pk]) == 1
    assert region_rows(entry) == {(320583, False), (320500, False), (320000, True), (330000, True)}
    assert CatalogueTheme.objects.filter(entry=entry).count() == 2
    assert CatalogueRegionTheme.objects.filter(entry=entry).count() == 8
    row = CatalogueRow.objects.get(entry=entry)
    assert (row.published_on, row.kind, row.level) == (entry.published_on, entry.kind, entry.level)


@pytest.mark.embedded
def test_reindexing_follows_changes_and_drops_entries_no_longer_ready(db):
    entry = EntryFactory(regions=[320000])
    entries_reindex(entry_ids=[entry.pk])
    entry.regions.set([440000])
    entries_reindex(entry_ids=[entry.pk])
    assert region_rows(entry) == {(440000, True)}
    Entry.objects.filter(pk=entry.pk).update(status="draft")
    assert entries_reindex(entry_ids=[entry.pk]) == 0
    assert not CatalogueRow.objects.filter(entry=entry).exists()
    assert not CatalogueRegion.objects.filter(entry=entry).exists()


@pytest.mark.embedded
def test_the_newsletter_import_indexes_its_entries(imported_sample):
    assert CatalogueRow.objects.count() == imported_sample.items.count() == 31
    jingjiang = Entry.objects.get(title="靖江政务服务“跨省通办”向基层延伸")
    assert CatalogueRegionTheme.objects.filter(
        entry=jingjiang, region_id=320000, theme=Theme.objects.get(slug="cross-province")
    ).exists()


@pytest.mark.embedded
def test_the_admin_save_and_mark_ready_action_reindex(client, researcher):
    client.force_login(researcher)
    response = client.post(
        reverse("admin:policies_policy_add"),
        {
            "title": "关于推进电子证照应用的通知",
            "issuer": "江苏省人民政府",
            "level": "provincial",
            "status": "draft",
            "regions": ["320000"],
            "published_on": "2022-08-03",
            "summary": "推进电子证照。",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = Entry.objects.get(title="关于推进电子证照应用的通知")
    assert not CatalogueRow.objects.filter(entry=entry).exists()  # a draft
    client.post(
        reverse("admin:policies_policy_changelist"),
        {"action": "mark_ready", "_selected_action": [entry.pk], "index": 0},
    )
    assert CatalogueRow.objects.filter(entry=entry).exists()
    assert set(CatalogueTheme.objects.filter(entry=entry).values_list("theme__slug", flat=True)) == {"e-licence"}


@pytest.mark.embedded
def test_the_spreadsheet_import_reindexes(db):
    import tablib

    from policies.resources import PolicyResource

    dataset = tablib.Dataset(headers=["编号", "标题", "发文机关", "级别", "地区", "主题", "日期", "状态"])
    dataset.append(
        ["", "川渝通办事项清单", "四川省人民政府办公厅", "省级", "四川、重庆", "cross-province", "2022-08-10", "已就绪"]
    )
    result = PolicyResource().import_data(dataset, dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors()
    entry = Entry.objects.get(title="川渝通办事项清单")
    assert region_rows(entry) == {(510000, True), (500000, True)}
    dry = PolicyResource().import_data(dataset, dry_run=True)
    assert not dry.has_errors()


@pytest.mark.embedded
def test_the_reindex_command_rebuilds_everything(imported_sample):
    CatalogueRow.objects.all().delete()
    CatalogueRegion.objects.all().delete()
    out = io.StringIO()
    call_command("reindex_catalogue", "--dry-run", stdout=out)
    assert "31" in out.getvalue() and not CatalogueRow.objects.exists()
    call_command("reindex_catalogue", stdout=out)
    assert CatalogueRow.objects.count() == 31
    assert CatalogueRegion.objects.filter(region_id=320000).count() == 4


@pytest.mark.django_db(transaction=True)
def test_deleting_an_entry_while_the_admin_saves_it_waits_instead_of_deadlocking(kunshan):
    """The admin saves an entry (its row locked), then reindexes it (the catalogue version locked); a delete of
    the same entry meanwhile must take the locks in that order too. PostgreSQL detects a deadlock after a
    second, so the save holds its lock a little longer than that."""
    import threading
    import time

    from django.db import connection, transaction

    from policies.indexing import entries_delete

    entry = indexed(EntryFactory(regions=[320583], themes=["e-licence"]))
    locked, outcome = threading.Event(), {}

    def save():
        try:
            with transaction.atomic():
                Entry.objects.filter(pk=entry.pk).update(title="改过的标题")
                locked.set()
                time.sleep(1.5)
                entries_reindex(entry_ids=[entry.pk])
            outcome["save"] = "ok"
        except Exception as error:
            outcome["save"] = repr(error)
        finally:
            connection.close()

    def delete():
        locked.wait(5)
        try:
            outcome["delete"] = entries_delete(entry_ids=[entry.pk])
        except Exception as error:
            outcome["delete"] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=save), threading.Thread(target=delete)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcome["save"] == "ok"
    assert isinstance(outcome["delete"], int) and outcome["delete"] >= 1, outcome["delete"]
    assert not Entry.objects.filter(pk=entry.pk).exists()
    assert not CatalogueRow.objects.filter(entry_id=entry.pk).exists()
