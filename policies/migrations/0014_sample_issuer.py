"""``CatalogueSample.issuer``: the entry's issuing body in the sample table, so the issuer facet (and an issuer
filter's estimate) reads that table alone. Filled from the entries for the rows already there (about 1 in 11
ready entries); plain SQL, no application code."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0013_entry_full_text"),
    ]

    operations = [
        migrations.AddField(
            model_name="cataloguesample",
            name="issuer",
            field=models.CharField(blank=True, default="", max_length=200),
        ),
        migrations.RunSQL(
            "UPDATE policies_cataloguesample SET issuer = "
            "(SELECT e.issuer FROM policies_entry e WHERE e.id = policies_cataloguesample.entry_id)",
            migrations.RunSQL.noop,
        ),
    ]
