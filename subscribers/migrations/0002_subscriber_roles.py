from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("subscribers", "0001_initial")]
    # The staff roles were synced here; they are ensured after every migrate now (dgd.apps).
    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop, elidable=True)]
