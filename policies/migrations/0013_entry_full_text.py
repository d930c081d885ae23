"""``Entry.full_text``: the original document's text as the inbox read it (收录); its opening is searched."""


from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('policies', '0012_entry_ready_at'),
    ]

    operations = [
        migrations.AddField(
            model_name='entry',
            name='full_text',
            field=models.TextField(blank=True, db_default='', default='', help_text="The document's text as read from its site; its opening is searched in the library.", verbose_name='full text of the original'),
        ),
        migrations.AddField(
            model_name='historicalentry',
            name='full_text',
            field=models.TextField(blank=True, db_default='', default='', help_text="The document's text as read from its site; its opening is searched in the library.", verbose_name='full text of the original'),
        ),
    ]
