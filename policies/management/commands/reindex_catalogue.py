from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from policies.indexing import (
    catalogue_changed,
    catalogue_check,
    catalogue_counts_refresh,
    catalogue_reindex_all,
    entries_reindex,
)
from policies.models import CatalogueCount, CatalogueRow, Entry, Status


class Command(BaseCommand):
    help = (
        "Rebuild the library's index tables (entry × region, entry × theme, the pair table, search tokens) "
        "and the facet counts table."
    )

    def add_arguments(self, parser):
        parser.add_argument("--entry", type=int, action="append", dest="entries", help="only this entry (repeatable)")
        parser.add_argument(
            "--counts-only",
            action="store_true",
            help="rebuild only the facet counts table (CatalogueCount) from the index tables",
        )
        parser.add_argument("--dry-run", action="store_true", help="say what would be reindexed and write nothing")
        parser.add_argument(
            "--check",
            action="store_true",
            help="change nothing; exit non-zero and name the entries whose index rows differ from a rebuild",
        )

    def handle(self, *args, entries=None, dry_run=False, counts_only=False, check=False, verbosity=1, **options):
        if check:
            result = catalogue_check()
            for entry_id in result.entries:
                self.stdout.write(f"entry {entry_id}: index rows differ from a rebuild")
            for key in result.counts:
                self.stdout.write(f"counts {key}: differ from the index tables")
            if not result.ok:
                raise CommandError(
                    f"{len(result.entries)} entries and {len(result.counts)} counts differ from a rebuild; "
                    "run reindex_catalogue to repair them"
                )
            self.stdout.write(self.style.SUCCESS("the index tables and counts equal a rebuild"))
            return
        if counts_only and not dry_run:
            with transaction.atomic():
                catalogue_changed()
                catalogue_counts_refresh()
            self.stdout.write(self.style.SUCCESS(f"rebuilt the counts table ({CatalogueCount.objects.count()} rows)"))
            return
        ready = Entry.objects.filter(status=Status.READY)
        if entries:
            ready = ready.filter(pk__in=entries)
        if dry_run:
            self.stdout.write(
                f"would reindex {ready.count()} ready entries ({CatalogueRow.objects.count()} indexed now)"
            )
            return
        if entries:
            done = entries_reindex(entry_ids=entries)
        else:

            def progress(done, total):
                if verbosity > 1:
                    self.stdout.write(f"{done}/{total}")

            done = catalogue_reindex_all(progress=progress)
        self.stdout.write(self.style.SUCCESS(f"reindexed {done} ready entries"))
