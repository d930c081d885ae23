
import django.contrib.postgres.fields
import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('policies', '0005_facet_counts'),
    ]

    operations = [
        migrations.CreateModel(
            name='CatalogueSample',
            fields=[
                ('published_on', models.DateField()),
                ('kind', models.CharField(max_length=10)),
                ('level', models.CharField(blank=True, max_length=10)),
                ('entry', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='policies.entry')),
                ('sample', models.SmallIntegerField()),
                ('vector', django.contrib.postgres.search.SearchVectorField(null=True)),
                ('regions', django.contrib.postgres.fields.ArrayField(base_field=models.IntegerField(), default=list, size=None)),
                ('provinces', django.contrib.postgres.fields.ArrayField(base_field=models.IntegerField(), default=list, size=None)),
                ('themes', django.contrib.postgres.fields.ArrayField(base_field=models.IntegerField(), default=list, size=None)),
            ],
            options={
                'indexes': [models.Index(fields=['sample'], name='catsample_sample')],
            },
        ),
    ]


FILL = """
INSERT INTO policies_cataloguesample (entry_id, published_on, kind, level, sample, vector, regions, provinces, themes)
SELECT r.entry_id, r.published_on, r.kind, r.level, mod(r.entry_id * 2654435761, 4294967296) >> 26, r.vector,
    ARRAY(SELECT g.region_id FROM policies_catalogueregion g WHERE g.entry_id = r.entry_id ORDER BY 1)::int[],
    ARRAY(SELECT g.region_id FROM policies_catalogueregion g WHERE g.entry_id = r.entry_id AND g.is_province
          ORDER BY 1)::int[],
    ARRAY(SELECT t.theme_id FROM policies_cataloguetheme t WHERE t.entry_id = r.entry_id ORDER BY 1)::int[]
FROM policies_cataloguerow r WHERE mod(r.entry_id * 2654435761, 4294967296) >> 26 < 6 ORDER BY 5
"""


def _fill(apps, schema_editor):
    """On PostgreSQL: the GIN index, and the sample of an existing catalogue (policies.indexing keeps it since;
    6 is SAMPLE_TABLE_BUCKETS). SQLite keeps the table empty: its facets are always exact."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE INDEX IF NOT EXISTS catsample_vector ON policies_cataloguesample USING gin (vector)")
        schema_editor.execute(FILL)


def _unfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS catsample_vector")


Migration.operations.append(migrations.RunPython(_fill, _unfill))
