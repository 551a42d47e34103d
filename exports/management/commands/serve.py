"""Run the web server plus an export worker: in-process without a broker, else `rundramatiq`."""

import subprocess
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand

from exports.inprocess import inprocess_worker_start
from exportsite.conf import export_settings


class Command(BaseCommand):
    help = "Run the web server and an export worker (in-process when no broker is configured)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-worker", action="store_true", help="Run only the web server.")

    def handle(self, *args, addrport: str, no_worker: bool, **options):
        conf = export_settings()
        worker = process = None
        if not no_worker and not conf.broker_url and conf.inprocess_worker:
            worker = inprocess_worker_start(threads=conf.inprocess_worker_threads)
            self.stdout.write("Export worker: in-process (no DRAMATIQ_BROKER_URL set).")
        elif not no_worker and conf.broker_url:
            process = subprocess.Popen(
                [
                    sys.executable,
                    str(conf.base_dir / "manage.py"),
                    "rundramatiq",
                    "--processes",
                    "1",
                    "--threads",
                    str(conf.inprocess_worker_threads),
                ]
            )
            self.stdout.write(f"Export worker: rundramatiq (pid {process.pid}) on {conf.broker_url.split('@')[-1]}.")
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            if worker is not None:
                worker.stop()
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
