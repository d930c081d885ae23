from celery import shared_task

from issues.workflow import issues_publish_due


@shared_task(acks_late=True, ignore_result=True)
def publish_due_issues():
    """Every minute (dgd/celery.py): publish the scheduled issues whose time has come. Idempotent."""
    return [issue.pk for issue in issues_publish_due()]
