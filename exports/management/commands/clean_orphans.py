from django.core.management.base import BaseCommand

from exports.services.maintenance import export_clean_orphans, export_find_orphans


class Command(BaseCommand):
    help = "List storage objects and multipart uploads that no export owns; --delete removes them."

    def add_arguments(self, parser):
        parser.add_argument("--delete", action="store_true", help="Delete what is listed (default: list only).")
        parser.add_argument(
            "--min-age",
            type=int,
            default=None,
            help="Only things older than this many seconds (default EXPORTS_ORPHAN_MIN_AGE_SECONDS).",
        )

    def handle(self, *args, delete: bool, min_age: int | None, **options):
        report = export_find_orphans(min_age_seconds=min_age)
        for alias, key in report.objects:
            self.stdout.write(f"object  {alias}:{key}")
        for alias, key, upload_id in report.uploads:
            self.stdout.write(f"upload  {alias}:{key} ({upload_id})")
        if delete:
            export_clean_orphans(report)
        verb = "deleted" if delete else "found (use --delete to remove)"
        self.stdout.write(f"{len(report.objects)} object(s) and {len(report.uploads)} upload(s) {verb}.")
