import json

from django.core.management.base import BaseCommand

from subscribers.services import deliveries_sweep


class Command(BaseCommand):
    help = "Re-queue digests a dead worker left 'sending' (what the periodic sweeper does every minute)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only say what would be re-queued")

    def handle(self, *args, dry_run, **options):
        self.stdout.write(json.dumps(deliveries_sweep(dry_run=dry_run)))
