"""The Celery application. Every periodic schedule of the project is declared here."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dgd.settings")

app = Celery("dgd")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# All periodic work lives in this one table (STYLE.md: "all periodic schedules sit in one place").
app.conf.beat_schedule = {
    # Wagtail's publish_scheduled pattern: no long-countdown tasks, a minute's tick publishes what is due.
    "publish-due-issues": {"task": "issues.tasks.publish_due_issues", "schedule": 60.0},
    # Re-queue digests a dead worker left "sending" (subscribers.services.deliveries_sweep).
    "sweep-deliveries": {
        "task": "subscribers.tasks.sweep_deliveries",
        "schedule": float(os.environ.get("SUBSCRIBERS_SWEEP_INTERVAL", "60")),
    },
}
