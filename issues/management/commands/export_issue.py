import sys

from django.core.management.base import BaseCommand, CommandError

from issues.renditions import render_html, render_json, render_newsletter_text, render_pdf
from issues.selectors import IssueNotFound, issue_by_reference, issue_data

RENDERERS = {
    "json": render_json,
    "text": render_newsletter_text,
    "html": render_html,
    "pdf": render_pdf,
}


class Command(BaseCommand):
    help = (
        "Write an issue as JSON, newsletter text, a web page or a PDF. ISSUE is its id or its month (2022-08). "
        "A published issue is written as it was published (its latest revision)."
    )

    def add_arguments(self, parser):
        parser.add_argument("issue", help="the issue's id or month, e.g. 2022-08")
        parser.add_argument("--format", choices=sorted(RENDERERS), default="json")
        parser.add_argument("-o", "--output", help="a file to write to (default: standard output)")

    def handle(self, *args, issue, format, output, **options):
        try:
            issue = issue_by_reference(issue)
        except IssueNotFound as error:
            raise CommandError(str(error)) from None
        if format == "pdf" and not output:
            raise CommandError("a PDF needs -o PATH")
        content = RENDERERS[format](issue_data(issue))
        if output:
            mode, encoding = ("wb", None) if isinstance(content, bytes) else ("w", "utf-8")
            with open(output, mode, encoding=encoding) as f:
                f.write(content)
        else:
            sys.stdout.write(content)
