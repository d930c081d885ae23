"""The Celery application. Every periodic schedule of the project is declared here."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dgd.settings")

app = Celery("dgd")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_check_interval = float(os.environ.get("SUBSCRIBERS_CHECK_INTERVAL", "15"))

# All periodic work lives in this one table, so what runs when is read in one place.
app.conf.beat_schedule = {
    # Saved-filter alerts (alerts/, docs/alerts.md): 即时 every 15 minutes, 每日 at 08:00, 每周 on Monday at 08:00
    # (CELERY_TIMEZONE is Asia/Shanghai). A run sends only what is due, so a repeated or late run is harmless.
    "alerts-instant": {
        "task": "alerts.tasks.send_alerts",
        "schedule": float(os.environ.get("ALERTS_INSTANT_INTERVAL", "900")),
        "args": ["instant"],
        "options": {"expires": 600},
    },
    "alerts-daily": {"task": "alerts.tasks.send_alerts", "schedule": crontab(minute=0, hour=8), "args": ["daily"]},
    "alerts-weekly": {
        "task": "alerts.tasks.send_alerts",
        "schedule": crontab(minute=0, hour=8, day_of_week="mon"),
        "args": ["weekly"],
    },
    # The subscribers' weekly 快讯 (subscribers/weekly.py, docs/subscribers.md), beside the weekly alerts: one batch
    # per Monday slot, made once, so a repeated or late run mails no one twice.
    "subscribers-weekly": {
        "task": "subscribers.tasks.send_weekly",
        "schedule": crontab(minute=0, hour=8, day_of_week="mon"),
    },
    # Wagtail's publish_scheduled pattern: no long-countdown tasks, a minute's tick publishes what is due.
    "publish-due-issues": {"task": "issues.tasks.publish_due_issues", "schedule": 60.0},
    # The researchers' inbox (sources/, docs/sources.md): every minute, the watched sources that are due, one
    # task per host. A tick still queued when the next is due is dropped (expires).
    "poll-due-sources": {"task": "sources.tasks.poll_due_sources", "schedule": 60.0, "options": {"expires": 60}},
    # The digest queue's keeper (subscribers.services.deliveries_check): a dead worker's leased rows back to
    # pending, tasks again for due rows whose task was lost, the fan-out of a publication that has none yet.
    # A check still queued when the next is due is dropped (expires).
    "check-deliveries": {
        "task": "subscribers.tasks.check_deliveries",
        "schedule": _check_interval,
        "options": {"expires": _check_interval},
    },
    # The generic engine's keeper (mailings.services.messages_check, docs/delivery.md): the same for every batch
    # that is not an issue's digest (the 快讯, …).
    "check-mailings": {
        "task": "mailings.tasks.check_messages",
        "schedule": _check_interval,
        "options": {"expires": _check_interval},
    },
}
