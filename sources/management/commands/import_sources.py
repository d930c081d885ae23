from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from sources.services import sources_import


class Command(BaseCommand):
    help = "Load watched sources from a JSON list; idempotent by URL (a source already there is updated)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="a JSON file: [{name, url, kind, region, level, selectors}]")

    def handle(self, *args, file, **options):
        try:
            data = Path(file).read_bytes()
        except OSError as error:
            raise CommandError(f"{file}: {error.strerror}") from error
        try:
            created, updated = sources_import(data=data)
        except ValueError as error:  # json.JSONDecodeError
            raise CommandError(f"{file}: not JSON ({error})") from error
        except ValidationError as error:
            raise CommandError(f"{file}: {'; '.join(error.messages)}") from error
        self.stdout.write(f"{created} created, {updated} updated")
