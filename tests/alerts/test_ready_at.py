"""``Entry.ready_at``: set when an entry becomes ready on every path, kept through edits, cleared in draft,
never taken from ``published_on``; only its service changes it."""

import datetime

import pytest

from policies.models import Entry, GuardedFieldError, Status
from policies.services import entry_mark_draft, entry_mark_ready
from tests.factories import EntryFactory

pytestmark = pytest.mark.django_db


def test_marking_ready_sets_it_and_draft_clears_it(researcher):
    entry = EntryFactory(status=Status.DRAFT, published_on=datetime.date(2012, 5, 1))
    assert entry.ready_at is None
    entry_mark_ready(entries=[entry], by=researcher)
    ready_at = Entry.objects.get(pk=entry.pk).ready_at
    assert ready_at is not None and ready_at.date() > datetime.date(2012, 5, 1)
    entry_mark_draft(entries=[entry], by=researcher)
    assert Entry.objects.get(pk=entry.pk).ready_at is None


def test_an_edit_keeps_it_and_only_the_service_changes_it(researcher):
    entry = EntryFactory(status=Status.DRAFT)
    entry_mark_ready(entries=[entry], by=researcher)
    entry = Entry.objects.get(pk=entry.pk)
    ready_at = entry.ready_at
    entry.summary = "新的摘要。"
    entry.published_on = datetime.date(2010, 1, 1)
    entry.save()
    assert Entry.objects.get(pk=entry.pk).ready_at == ready_at
    entry.ready_at = ready_at - datetime.timedelta(days=3)
    with pytest.raises(GuardedFieldError):
        entry.save()


def test_an_entry_created_ready_has_it(db):
    assert EntryFactory(status=Status.READY).ready_at is not None


def test_the_newsletter_importer_creates_ready_entries_with_it(imported_sample):
    assert not Entry.objects.filter(status=Status.READY, ready_at=None).exists()
    assert Entry.objects.filter(status=Status.READY).exists()
