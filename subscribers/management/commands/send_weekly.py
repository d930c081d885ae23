"""``python manage.py send_weekly [--dry-run]``: what the Monday schedule does (``dgd/celery.py``): the 快讯 of
the latest weekly slot, made once."""

from django.core.management.base import BaseCommand

from subscribers.models import Subscriber
from subscribers.weekly import weekly_send


class Command(BaseCommand):
    help = "Mail the weekly news flash of the latest Monday slot to the subscribers who chose it."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="print per subscriber how many entries it would get")

    def handle(self, *args, dry_run=False, **options):
        if dry_run:
            would = weekly_send(dry_run=True)
            emails = dict(Subscriber.objects.filter(pk__in=would).values_list("pk", "email"))
            for subscriber_id, count in would.items():
                self.stdout.write(f"subscriber {subscriber_id} <{emails.get(subscriber_id, '')}>: {count} entries")
            self.stdout.write(f"weekly: {len(would)} subscribers would get one (dry run, nothing sent)")
            return
        batch, made = weekly_send()
        self.stdout.write(f"weekly {batch.key}: {made} messages queued" if made else f"weekly {batch.key}: nothing new")
