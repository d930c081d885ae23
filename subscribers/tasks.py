"""Celery tasks: they take ids, re-fetch and call a service."""

from celery import shared_task
from django.conf import settings

from mailings.tasks import DELIVERY_TASK
from subscribers import services


@shared_task(**DELIVERY_TASK)
def create_deliveries(issue_id):
    """After a publication commits: one delivery per confirmed subscriber, then the chunk tasks."""
    return services.deliveries_create_for_issue(issue_id=issue_id)


@shared_task(**DELIVERY_TASK, time_limit=settings.SUBSCRIBERS_TASK_TIME_LIMIT)
def send_digest_chunk(issue_id):
    """Send one chunk of an issue's pending digests over one SMTP connection."""
    result = services.deliveries_send_chunk(issue_id=issue_id)
    return vars(result)


@shared_task(acks_late=True, ignore_result=True)
def check_deliveries():
    """Periodic (dgd/celery.py): a dead worker's rows back to pending, lost tasks queued again, a publication
    without deliveries fanned out. A failed run is simply followed by the next."""
    return services.deliveries_check()


@shared_task(**DELIVERY_TASK)
def send_subscriber_mail(subscriber_id, preferences, request_id=None, key=None):
    """The mail of a subscription request: a batch of the mail engine under ``key``, made once (a re-run
    makes nothing, so the task is acknowledged late like the deliveries)."""
    return services.subscriber_send_confirmation(
        subscriber_id=subscriber_id, preferences=preferences, request_id=request_id, key=key
    )


@shared_task(ignore_result=True)
def send_weekly():
    """Monday 08:00 (dgd/celery.py): the week's 快讯 batch, made once; a repeated run makes nothing."""
    from subscribers.weekly import weekly_send

    _batch, made = weekly_send()
    return made
