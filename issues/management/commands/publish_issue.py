from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from issues.models import IssueStatus
from issues.selectors import IssueNotFound, issue_by_reference
from issues.workflow import WorkflowError, issue_transition

# The steps that take an issue from each state to published.
PATH_TO_PUBLISHED = {
    IssueStatus.DRAFT: "submit",
    IssueStatus.IN_REVIEW: "approve",
    IssueStatus.APPROVED: "publish",
    IssueStatus.SCHEDULED: "publish",
}


class Command(BaseCommand):
    help = (
        "Take an issue to published now, through the same workflow steps (and permission checks) as the admin, "
        "acting as USERNAME. ISSUE is the id or the month (2022-08)."
    )

    def add_arguments(self, parser):
        parser.add_argument("issue")
        parser.add_argument("--as", dest="username", required=True, help="the user the steps are taken as")
        parser.add_argument("--dry-run", action="store_true", help="list the steps, take none")

    def handle(self, *args, issue, username, dry_run, **options):
        try:
            issue = issue_by_reference(issue)
            user = get_user_model().objects.get(username=username, is_active=True)
        except IssueNotFound as error:
            raise CommandError(str(error)) from None
        except get_user_model().DoesNotExist:
            raise CommandError(f"no active user {username}") from None
        if issue.is_published:
            self.stdout.write(f"{issue} is already published.")
            return
        while issue.status in PATH_TO_PUBLISHED:
            action = PATH_TO_PUBLISHED[issue.status]
            if dry_run:
                self.stdout.write(f"would {action}")
                issue.status = {"submit": "in_review", "approve": "approved", "publish": "published"}[action]
                continue
            try:
                issue, _ = issue_transition(issue=issue, action=action, by=user)
            except (PermissionDenied, WorkflowError) as error:
                raise CommandError(f"{action}: {error} The issue stays {issue.get_status_display()}.") from None
            self.stdout.write(f"{action}: {issue} is now {issue.get_status_display()}")
