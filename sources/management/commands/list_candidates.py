import json

from django.core.management.base import BaseCommand

from sources.selectors import candidates_as_dicts


class Command(BaseCommand):
    help = "Print the candidates queue (newest first)."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["json"], default="json")

    def handle(self, *args, format="json", **options):
        self.stdout.write(json.dumps(candidates_as_dicts(), ensure_ascii=False, indent=2))
