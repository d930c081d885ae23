from django.contrib.auth.management import create_permissions
from django.db import migrations

from dgd.roles import sync_roles


def update_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


class Migration(migrations.Migration):
    dependencies = [("issues", "0003_workflow")]
    operations = [migrations.RunPython(update_roles, migrations.RunPython.noop)]
