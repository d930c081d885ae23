from django.contrib.auth.management import create_permissions
from django.db import migrations

from dgd.roles import sync_roles


def create_series(apps, schema_editor):
    Series = apps.get_model("issues", "Series")
    Series.objects.get_or_create(
        slug="zhengwu",
        defaults={"name": "政务服务分册", "publication": "数字政府动态", "publisher": "新点软件数字政府研究院"},
    )


def create_roles(apps, schema_editor):
    # Permissions are normally created after migrate; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


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
        migrations.RunPython(create_roles, migrations.RunPython.noop),
    ]
