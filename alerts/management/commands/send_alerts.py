"""``python manage.py send_alerts [--frequency instant|daily|weekly] [--dry-run]``: what the alert schedule
does (``dgd/celery.py``). Without ``--frequency``, every frequency in turn."""

from django.core.management.base import BaseCommand

from alerts.models import Alert, Frequency
from alerts.services import alerts_send

FREQUENCIES = [Frequency.INSTANT, Frequency.DAILY, Frequency.WEEKLY]


class Command(BaseCommand):
    help = "Mail every due saved-filter alert what became ready since its last mail."

    def add_arguments(self, parser):
        parser.add_argument("--frequency", choices=[str(f) for f in FREQUENCIES])
        parser.add_argument("--dry-run", action="store_true", help="print per alert how many entries it would send")

    def handle(self, *args, frequency=None, dry_run=False, **options):
        for each in [frequency] if frequency else FREQUENCIES:
            report = alerts_send(frequency=each, dry_run=dry_run)
            if dry_run:
                names = dict(Alert.objects.filter(pk__in=report.would_send).values_list("pk", "saved_filter__name"))
                for alert_id, count in report.would_send.items():
                    self.stdout.write(f"{each} alert {alert_id} «{names.get(alert_id, '')}»: {count} entries")
                self.stdout.write(f"{each}: {len(report.would_send)} alerts due (dry run, nothing sent)")
            else:
                self.stdout.write(f"{each}: {report.sent} mails sent, {report.failed} failed")
