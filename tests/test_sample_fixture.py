"""``imported_sample`` puts back rows imported once per session: they must be what an import writes."""

import pytest

from issues.selectors import issue_as_data
from issues.services import issue_import_newsletter
from policies.indexing import entries_reindex
from policies.models import CatalogueRow, Entry

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


def test_the_restored_sample_is_what_importing_it_writes(imported_sample, sample_bytes):
    before = issue_as_data(imported_sample)
    indexed = set(CatalogueRow.objects.values_list("entry_id", flat=True))

    again = issue_import_newsletter(data=sample_bytes, source_name="dgd-2022-08-zhengwu.txt")

    assert again.issue.pk == imported_sample.pk and not again.issue_created
    assert (again.entries_created, again.entries_updated, again.entries_unchanged) == (0, 0, 31)
    assert issue_as_data(again.issue) == before
    entries_reindex(entry_ids=list(Entry.objects.values_list("pk", flat=True)))
    assert set(CatalogueRow.objects.values_list("entry_id", flat=True)) == indexed


def test_each_test_gets_its_own_copy_to_write(imported_sample):
    imported_sample.items.first().delete()
    assert imported_sample.items.count() == 30


def test_a_write_in_one_test_is_gone_in_the_next(imported_sample):
    assert imported_sample.items.count() == 31


def test_rows_a_test_made_before_asking_for_the_sample_keep_their_ids(db, request):
    from tests.factories import EntryFactory

    mine = EntryFactory(title="先于样刊创建的条目")
    sample = request.getfixturevalue("imported_sample")
    assert Entry.objects.get(pk=mine.pk).title == "先于样刊创建的条目"
    assert sample.items.count() == 31
