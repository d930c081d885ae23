"""The hook on ``issues.signals.issue_published``: it only calls the service (no logic in signals)."""


def on_issue_published(sender, issue_id, **kwargs):
    """Queue the fan-out task once the publication has committed; never fails the publishing request."""
    from subscribers.services import fanout_start

    fanout_start(issue_id=issue_id)
