from django.core.management.base import BaseCommand

from exports.engine.reconcile import export_reconcile


class Command(BaseCommand):
    help = "Re-send lost PENDING jobs, retry or give up stuck TRIGGERED ones, expire those past their deadline."

    def handle(self, *args, **options):
        report = export_reconcile()
        self.stdout.write(", ".join(f"{name}: {count}" for name, count in report.as_dict().items()))
