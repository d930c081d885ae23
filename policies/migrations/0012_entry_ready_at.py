"""``Entry.ready_at``: when an entry became ready (visible in the library), what saved-filter alerts go by.

Entries already ready get their last change as that time (the best record there is; ``published_on`` can be
back-dated and must not decide). Written through the historical model, so it stays what it did."""

from django.db import migrations, models
from django.db.models import F


def ready_since_last_change(apps, schema_editor):
    Entry = apps.get_model("policies", "Entry")
    Entry.objects.filter(status="ready", ready_at=None).update(ready_at=F("updated_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0010_search_text"),
    ]

    operations = [
        migrations.AddField(
            model_name="entry",
            name="ready_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="ready since"),
        ),
        migrations.AddField(
            model_name="historicalentry",
            name="ready_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="ready since"),
        ),
        migrations.RunPython(ready_since_last_change, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="entry",
            index=models.Index(fields=["ready_at"], name="entry_ready_at"),
        ),
    ]
