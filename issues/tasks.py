from celery import shared_task

from issues.notices import notice_send
from issues.workflow import issues_publish_due


@shared_task(acks_late=True, ignore_result=True)
def publish_due_issues():
    """Every minute (dgd/celery.py): publish the scheduled issues whose time has come. Idempotent."""
    return [issue.pk for issue in issues_publish_due()]


@shared_task(acks_late=True, ignore_result=True)
def send_issue_notice(notice_id):
    """Mail one workflow notice (issues.notices); idempotent: a notice recorded as sent is not sent again."""
    notice = notice_send(notice_id=notice_id)
    return notice.status if notice else None
