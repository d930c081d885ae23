import json
import sys

from django.core.management.base import BaseCommand, CommandError

from issues.newsletter.writer import render_text
from issues.selectors import IssueNotFound, issue_by_reference, issue_data
from policies.models import Region

FORMATS = ("json", "text")


class Command(BaseCommand):
    help = "Write an issue as JSON or in the newsletter's text format. ISSUE is its id or its month (2022-08)."

    def add_arguments(self, parser):
        parser.add_argument("issue", help="the issue's id or month, e.g. 2022-08")
        parser.add_argument("--format", choices=FORMATS, default="json")
        parser.add_argument("-o", "--output", help="a file to write to (default: standard output)")

    def handle(self, *args, issue, format, output, **options):
        try:
            issue = issue_by_reference(issue)
        except IssueNotFound as error:
            raise CommandError(str(error)) from None
        data = issue_data(issue)
        if format == "json":
            content = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        else:
            names = {str(code): short for code, short in Region.objects.values_list("code", "short_name")}
            content = render_text(data, names)
        if output:
            with open(output, "w", encoding="utf-8") as f:
                f.write(content)
        else:
            sys.stdout.write(content)
