"""The engine's tasks: they take a batch's id, never a model instance."""

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from mailings import services

# The delivery tasks are idempotent (a claim takes only pending rows; making a batch twice makes nothing the
# second time), so they are acknowledged late and given back to the queue when their worker process dies; a
# lost database connection retries them with backoff. The periodic check stands behind all of them.
DELIVERY_TASK = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 10,
}


@shared_task(**DELIVERY_TASK, time_limit=settings.SUBSCRIBERS_TASK_TIME_LIMIT)
def send_chunk(batch_id):
    """Send one chunk of a batch's pending messages over one SMTP connection."""
    return vars(services.batch_send_chunk(batch_id=batch_id))


@shared_task(acks_late=True, ignore_result=True)
def check_messages():
    """Periodic (dgd/celery.py): a dead worker's rows back to pending, lost tasks queued again."""
    return services.messages_check()
