from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from issues.models import IssueStatus
from issues.selectors import IssueNotFound, issue_by_reference
from issues.workflow import TRANSITIONS, WorkflowError, issue_transition

# The steps that take an issue from each state to published.
PATH_TO_PUBLISHED = {
    IssueStatus.DRAFT: "submit",
    IssueStatus.IN_REVIEW: "approve",
    IssueStatus.APPROVED: "publish",
    IssueStatus.SCHEDULED: "publish",
}


def path_to_published(status):
    """The steps, in order, that take an issue in ``status`` to published."""
    steps = []
    while status in PATH_TO_PUBLISHED:
        action = PATH_TO_PUBLISHED[status]
        steps.append(action)
        status = TRANSITIONS[action].target
    return steps


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
        steps = path_to_published(issue.status)
        # All or nothing: a user who may take only part of the way (a researcher may submit, not approve) is
        # refused before the first step, and a step that fails undoes the ones before it (one transaction;
        # ``issue_published`` is sent on commit, so only once the whole path has succeeded).
        for action in steps:
            if not user.has_perm(TRANSITIONS[action].permission):
                raise CommandError(
                    f"{action}: {username} may not {TRANSITIONS[action].label}. "
                    f"Nothing was done; the issue stays {issue.get_status_display()}."
                )
        if dry_run:
            for action in steps:
                self.stdout.write(f"would {action}")
            return
        status = issue.get_status_display()
        done = []
        try:
            with transaction.atomic():
                for action in steps:
                    issue, _ = issue_transition(issue=issue, action=action, by=user)
                    done.append(f"{action}: {issue} is now {issue.get_status_display()}")
        except (PermissionDenied, WorkflowError) as error:
            raise CommandError(f"{action}: {error} Nothing was done; the issue stays {status}.") from None
        for line in done:
            self.stdout.write(line)
