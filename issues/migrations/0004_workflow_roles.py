from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("issues", "0003_workflow")]
    # The staff roles were synced here; they are ensured after every migrate now (dgd.apps).
    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop, elidable=True)]
