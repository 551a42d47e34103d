from django.core.management.base import BaseCommand

from exports.services.maintenance import export_apply_retention


class Command(BaseCommand):
    help = "Delete finished export files past their retention; the jobs become EXPIRED (retention)."

    def handle(self, *args, **options):
        self.stdout.write(f"{export_apply_retention()} export(s) expired by retention.")
