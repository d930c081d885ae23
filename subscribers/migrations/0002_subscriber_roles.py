from django.db import migrations

from dgd.roles import sync_roles_in_migration


class Migration(migrations.Migration):
    dependencies = [("subscribers", "0001_initial")]
    operations = [migrations.RunPython(sync_roles_in_migration, migrations.RunPython.noop)]
