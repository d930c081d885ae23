from django.core.management.base import BaseCommand, CommandError

from sources.models import Source
from sources.services import sources_poll


class Command(BaseCommand):
    help = "Poll the watched sources that are due (or one source, now) into candidates, as the schedule does."

    def add_arguments(self, parser):
        parser.add_argument("--source", type=int, help="poll this source now, due or not")
        parser.add_argument("--dry-run", action="store_true", help="read and report, store nothing")

    def handle(self, *args, source=None, dry_run=False, **options):
        if source is not None and not Source.objects.filter(pk=source).exists():
            raise CommandError(f"no source {source}")
        results = sources_poll(source_ids=[source] if source is not None else None, dry_run=dry_run)
        for result in results:
            line = f"{result.source.pk} {result.source.name}: {result.status}"
            if result.error:
                line += f" ({result.error})"
            line += f", {len(result.new)} new, {result.reprints} reprints, {result.seen} seen"
            self.stdout.write(line)
            if dry_run:
                for draft in result.new:
                    self.stdout.write(
                        f"  {draft.published_on or '-'} {draft.doc_number or '-'} {draft.title} {draft.url}"
                    )
        if dry_run:
            self.stdout.write("dry run: nothing stored")
        failed = [r for r in results if r.error]
        if failed and source is not None:
            raise CommandError(f"source {source}: {failed[0].error}")
