from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from issues.newsletter.parser import NewsletterError
from issues.services import issue_import_newsletter
from policies.services import region_path


class Command(BaseCommand):
    help = (
        "Import a newsletter text file into an issue and its catalogue entries. Idempotent; on malformed "
        "input it exits non-zero with 'line N: reason' and writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the newsletter file (UTF-8 text)")
        parser.add_argument(
            "--draft", action="store_true", help="keep a new issue and its entries as drafts instead of archiving it"
        )
        parser.add_argument("--dry-run", action="store_true", help="parse and check the file, write nothing")

    def handle(self, *args, path, draft, dry_run, **options):
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from None
        try:
            if dry_run:
                from issues.newsletter.parser import parse
                from issues.services import newsletter_vocabulary

                parsed = parse(data, newsletter_vocabulary())
                self.stdout.write(
                    f"{path}: {parsed.series} {parsed.year}-{parsed.month:02d} 第{parsed.number:02d}期, "
                    + " + ".join(str(len(s.entries)) for s in parsed.sections)
                    + " entries (dry run: nothing written)"
                )
                return
            result = issue_import_newsletter(data=data, source_name=Path(path).name, draft=draft)
        except NewsletterError as error:
            raise CommandError(f"{path}: {error}") from None
        issue = result.issue
        verb = "created" if result.issue_created else "already there"
        self.stdout.write(
            self.style.SUCCESS(
                f"{issue} ({issue.key}, id {issue.pk}, {issue.get_status_display()}): issue {verb}; entries "
                f"{result.entries_created} created, {result.entries_updated} updated, "
                f"{result.entries_unchanged} unchanged"
            )
        )
        for label, (entry, regions) in result.region_suggestions.items():
            # Shown, not applied: the entry's admin page offers them with one click (建议地区).
            names = "、".join(region_path(region) for region in regions)
            self.stdout.write(f"  {label} {entry.title[:30]}: suggested regions {names} (entry id {entry.pk})")
