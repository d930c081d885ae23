from django.db import migrations


def create_series(apps, schema_editor):
    Series = apps.get_model("issues", "Series")
    Series.objects.get_or_create(
        slug="zhengwu",
        defaults={"name": "政务服务分册", "publication": "数字政府动态", "publisher": "新点软件数字政府研究院"},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0001_initial"),
        ("policies", "0002_vocabulary"),
        ("practices", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [
        migrations.RunPython(create_series, migrations.RunPython.noop),
        # The staff roles were synced here; they are ensured after every migrate now (dgd.apps).
        migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop, elidable=True),
    ]
