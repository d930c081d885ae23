"""Polling on the Celery beat schedule (dgd/celery.py): a tick every minute queues one task per host with
the sources due on it, so hosts are polled side by side and one host's sources one after another."""

from celery import shared_task

from sources.services import sources_claim_due, sources_poll


@shared_task(ignore_result=True)
def poll_due_sources():
    """Every minute: claim the due sources and queue a poll of each host's share."""
    claimed = sources_claim_due()
    for source_ids in claimed.values():
        # On the ``imports`` queue with the other slow jobs: a host's polite pace must never delay digest mail.
        poll_sources.apply_async((source_ids,), queue="imports")
    return sum(len(ids) for ids in claimed.values())


@shared_task(ignore_result=True)
def poll_sources(source_ids):
    """Poll the given sources now (one host's). A source that a crashed task left claimed is due again when
    its claim runs out (``sources_claim_due``)."""
    return [result.status for result in sources_poll(source_ids=source_ids)]
