"""Each published revision says which version of the issue JSON it holds (docs/issue-json.md, "schema")."""

import importlib

import pytest
from django.apps import apps

from issues.models import IssueRevision
from issues.workflow import REVISION_SCHEMA, revision_create
from tests.factories import IssueFactory

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]

migration = importlib.import_module("issues.migrations.0006_revision_schema")


def test_a_new_revision_stores_the_schema_version(imported_sample):
    assert imported_sample.latest_revision().data["schema"] == REVISION_SCHEMA == 1
    corrected = revision_create(issue=imported_sample, by=None, reason="更正")
    assert corrected.data["schema"] == 1 and corrected.data["sections"]


def test_an_approved_content_revision_stores_it_too(db):
    issue = IssueFactory()
    revision = revision_create(issue=issue, by=None, reason="发布", data={"intro": "导读", "sections": []})
    assert revision.data == {"intro": "导读", "sections": [], "status": issue.status, "schema": 1}


def test_the_data_migration_gives_older_revisions_version_1_and_takes_it_back(db):
    issue = IssueFactory()
    older = IssueRevision.objects.create(issue=issue, number=1, data={"intro": "旧的", "sections": []})
    newer = revision_create(issue=issue, by=None, reason="新的")
    migration.add_schema(apps, None)
    older.refresh_from_db()
    assert older.data == {"intro": "旧的", "sections": [], "schema": 1}
    migration.remove_schema(apps, None)
    older.refresh_from_db()
    newer.refresh_from_db()
    assert "schema" not in older.data and "schema" not in newer.data
