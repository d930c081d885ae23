"""Celery tasks: they take ids, re-fetch and call a service."""

from celery import shared_task
from django.conf import settings

from subscribers import services


@shared_task(
    acks_late=True,  # idempotent: a re-run claims only rows still pending
    ignore_result=True,
    time_limit=settings.SUBSCRIBERS_TASK_TIME_LIMIT,
)
def send_digest_chunk(issue_id):
    """Send one chunk of an issue's pending digests over one SMTP connection."""
    result = services.deliveries_send_chunk(issue_id=issue_id)
    return vars(result)


@shared_task(acks_late=True, ignore_result=True)
def sweep_deliveries():
    """Periodic (dgd/celery.py): re-queue deliveries a dead worker left behind."""
    return services.deliveries_sweep()


@shared_task(ignore_result=True)
def send_subscriber_mail(subscriber_id, preferences):
    """The confirmation mail for a subscription request (not acks_late: a re-run would mail twice)."""
    return services.subscriber_send_confirmation(subscriber_id=subscriber_id, preferences=preferences)
