from django.core.management.base import BaseCommand
from django.db import transaction

from policies.indexing import catalogue_changed, catalogue_counts_refresh, catalogue_reindex_all, entries_reindex
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

    def handle(self, *args, entries=None, dry_run=False, counts_only=False, verbosity=1, **options):
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
