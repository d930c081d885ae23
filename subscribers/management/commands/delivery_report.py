import json

from django.core.management.base import BaseCommand, CommandError

from issues.selectors import IssueNotFound, issue_by_reference
from subscribers.selectors import delivery_counts


class Command(BaseCommand):
    help = "How an issue's digests went: total, sent, failed, pending, skipped."

    def add_arguments(self, parser):
        parser.add_argument("issue", help="the issue's id or month (2022-08)")
        parser.add_argument("--format", choices=["json", "text"], default="text")

    def handle(self, *args, issue, format, **options):
        try:
            found = issue_by_reference(issue)
        except IssueNotFound as error:
            raise CommandError(str(error)) from None
        counts = delivery_counts(issue_id=found.pk)
        if format == "json":
            self.stdout.write(json.dumps(counts))
        else:
            self.stdout.write(f"{found}: " + ", ".join(f"{key} {value}" for key, value in counts.items()))
