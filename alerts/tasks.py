"""The alert runs the schedule queues (``dgd/celery.py``): each takes a frequency, never a model instance."""

from celery import shared_task

from alerts.services import alerts_send


@shared_task(ignore_result=True)
def send_alerts(frequency):
    """Every due alert of ``frequency``. Safe to repeat: a second run finds nothing new to send."""
    report = alerts_send(frequency=frequency)
    return {"sent": report.sent, "failed": report.failed}
