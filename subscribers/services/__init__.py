"""Writes of the subscribers app, one module per seam: ``subscriptions`` (double opt-in, preferences, leaving),
``csv_import``, ``transport`` (SMTP for the digests) and ``delivery``
(the digests' fan-out, chunks, leases, retries and the periodic check). The public names are here too, so
``from subscribers import services`` and ``services.deliveries_check`` keep working."""

from mailings.transport import backoff, classify_error
from subscribers.services.csv_import import CSV_COLUMNS, ImportResult, subscribers_import_csv
from subscribers.services.delivery import (
    BROKER_ERRORS,
    DB_ERRORS,
    FANOUT_WINDOW,
    ChunkResult,
    deliveries_check,
    deliveries_create_for_issue,
    deliveries_retry_failed,
    deliveries_send_chunk,
    enqueue_chunks,
    fanout_confirmation,
    fanout_start,
)
from subscribers.services.subscriptions import (
    clean_preferences,
    normalise_email,
    subscriber_confirm,
    subscriber_erase,
    subscriber_from_manage_token,
    subscriber_pause,
    subscriber_preferences_changed,
    subscriber_send_confirmation,
    subscriber_subscribe,
    subscriber_unsubscribe,
    subscriber_update_preferences,
    subscriber_weekly_off,
)
from subscribers.services.transport import _sendmail_wire

__all__ = [
    "BROKER_ERRORS",
    "CSV_COLUMNS",
    "DB_ERRORS",
    "FANOUT_WINDOW",
    "ChunkResult",
    "ImportResult",
    "_sendmail_wire",
    "backoff",
    "classify_error",
    "clean_preferences",
    "deliveries_check",
    "deliveries_create_for_issue",
    "deliveries_retry_failed",
    "deliveries_send_chunk",
    "enqueue_chunks",
    "fanout_confirmation",
    "fanout_start",
    "normalise_email",
    "subscriber_confirm",
    "subscriber_erase",
    "subscriber_from_manage_token",
    "subscriber_pause",
    "subscriber_preferences_changed",
    "subscriber_send_confirmation",
    "subscriber_subscribe",
    "subscriber_unsubscribe",
    "subscriber_update_preferences",
    "subscriber_weekly_off",
    "subscribers_import_csv",
]
