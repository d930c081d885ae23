"""The Celery application. Every periodic schedule of the project is declared here."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dgd.settings")

app = Celery("dgd")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_check_interval = float(os.environ.get("SUBSCRIBERS_CHECK_INTERVAL", "15"))

# All periodic work lives in this one table, so what runs when is read in one place.
app.conf.beat_schedule = {
    # Wagtail's publish_scheduled pattern: no long-countdown tasks, a minute's tick publishes what is due.
    "publish-due-issues": {"task": "issues.tasks.publish_due_issues", "schedule": 60.0},
    # The digest queue's keeper (subscribers.services.deliveries_check): a dead worker's leased rows back to
    # pending, tasks again for due rows whose task was lost, the fan-out of a publication that has none yet.
    # A check still queued when the next is due is dropped (expires).
    "check-deliveries": {
        "task": "subscribers.tasks.check_deliveries",
        "schedule": _check_interval,
        "options": {"expires": _check_interval},
    },
}
