from django.db import migrations

# Every revision stored before this migration holds version 1 of the issue JSON (docs/issue-json.md); from now
# on revision_create writes the version itself. The number is frozen here, not read from issues.workflow.
SCHEMA = 1
BATCH = 500


def add_schema(apps, schema_editor):
    IssueRevision = apps.get_model("issues", "IssueRevision")
    batch = []
    for revision in IssueRevision.objects.only("pk", "data").iterator(chunk_size=BATCH):
        if isinstance(revision.data, dict) and "schema" not in revision.data:
            revision.data = {**revision.data, "schema": SCHEMA}
            batch.append(revision)
        if len(batch) >= BATCH:
            IssueRevision.objects.bulk_update(batch, ["data"])
            batch = []
    IssueRevision.objects.bulk_update(batch, ["data"])


def remove_schema(apps, schema_editor):
    IssueRevision = apps.get_model("issues", "IssueRevision")
    batch = []
    for revision in IssueRevision.objects.only("pk", "data").iterator(chunk_size=BATCH):
        if isinstance(revision.data, dict) and revision.data.get("schema") == SCHEMA:
            revision.data = {key: value for key, value in revision.data.items() if key != "schema"}
            batch.append(revision)
        if len(batch) >= BATCH:
            IssueRevision.objects.bulk_update(batch, ["data"])
            batch = []
    IssueRevision.objects.bulk_update(batch, ["data"])


class Migration(migrations.Migration):
    # After 0007 (written at the same time, on 0005) so that the graph has one leaf; the two touch different
    # things and may run in either order.
    dependencies = [("issues", "0007_workflow_people")]
    operations = [migrations.RunPython(add_schema, remove_schema)]
