from django.db import migrations

from policies.vocabulary import load_vocabulary


def load(apps, schema_editor):
    load_vocabulary(apps.get_model("policies", "Region"), apps.get_model("policies", "Theme"),
                    apps.get_model("policies", "Partner"))


class Migration(migrations.Migration):
    dependencies = [("policies", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
