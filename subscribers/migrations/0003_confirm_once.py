import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("subscribers", "0002_subscriber_roles"),
        # The chief editor's role includes axes' AccessAttempt permissions (unlocking a locked-out login).
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [
        migrations.AddField(
            model_name="subscriber",
            name="preferences_requested_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the current preferences were asked for; an older confirmation link is refused.",
                null=True,
                verbose_name="preferences asked for at",
            ),
        ),
        migrations.CreateModel(
            name="ConfirmationRequest",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("nonce", models.CharField(max_length=64, unique=True, verbose_name="nonce")),
                ("preferences", models.JSONField(default=dict, verbose_name="preferences")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="created at")),
                ("used_at", models.DateTimeField(blank=True, null=True, verbose_name="used at")),
                (
                    "subscriber",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="confirmation_requests",
                        to="subscribers.subscriber",
                        verbose_name="subscriber",
                    ),
                ),
            ],
            options={
                "verbose_name": "confirmation request",
                "verbose_name_plural": "confirmation requests",
                "ordering": ["-created_at", "-id"],
            },
        ),
        # The staff roles were synced here; they are ensured after every migrate now (dgd.apps).
        migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop, elidable=True),
    ]
