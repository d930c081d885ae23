
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('policies', '0004_catalogue_count'),
    ]

    operations = [
        # Facets became disjunctive (a facet ignores its own filter), so the co-occurrence rows go.
        migrations.RunSQL(
            "DELETE FROM policies_cataloguecount WHERE chosen_region_id IS NOT NULL OR chosen_theme_id IS NOT NULL",
            migrations.RunSQL.noop,
        ),
        migrations.RemoveIndex(
            model_name='cataloguecount',
            name='catcount_theme',
        ),
        migrations.RemoveIndex(
            model_name='cataloguecount',
            name='catcount_region',
        ),
        migrations.RemoveField(
            model_name='cataloguecount',
            name='chosen_region',
        ),
        migrations.RemoveField(
            model_name='cataloguecount',
            name='chosen_theme',
        ),
        migrations.AddIndex(
            model_name='cataloguecount',
            index=models.Index(fields=['theme', 'region', 'month'], name='catcount_theme'),
        ),
        migrations.AddIndex(
            model_name='cataloguecount',
            index=models.Index(fields=['region', 'theme', 'month'], name='catcount_region'),
        ),
    ]
