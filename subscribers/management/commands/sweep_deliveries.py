import json

from django.core.management.base import BaseCommand

from subscribers.services import deliveries_check


class Command(BaseCommand):
    help = (
        "What the periodic delivery check does: put back rows whose sender died, queue tasks again for due rows "
        "whose task was lost, fan out a publication that has no deliveries."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only say what would be done")

    def handle(self, *args, dry_run, **options):
        self.stdout.write(json.dumps(deliveries_check(dry_run=dry_run)))
