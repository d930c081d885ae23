"""The hook on ``issues.signals.issue_published``: it only calls the service (no logic in signals)."""


def on_issue_published(sender, issue_id, **kwargs):
    from subscribers.services import deliveries_create_for_issue

    deliveries_create_for_issue(issue_id=issue_id)
