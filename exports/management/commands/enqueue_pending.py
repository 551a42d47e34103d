from django.core.management.base import BaseCommand

from exports.queue import export_enqueue_pending


class Command(BaseCommand):
    help = "Re-send every PENDING export to the broker (safe to repeat: claims are atomic)."

    def handle(self, *args, **options):
        sent = export_enqueue_pending()
        self.stdout.write(f"{sent} pending export(s) enqueued.")
