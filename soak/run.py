"""`make soak`: mixed exports of all 15 types over several campaigns, run by 2 worker processes
against the soak's own PostgreSQL, Redis and moto, while a fault injector kills workers, restarts
Redis and PostgreSQL, freezes moto and now and then restarts it empty. See soak/README.md.

Exit status 0 when every check holds; 1 otherwise (the report says which)."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "soak"]

from soak.report import checks, write_report  # noqa: E402
from soak.services import Services  # noqa: E402 - needs ROOT on the path

WORK = ROOT / "soak" / "data"  # git-ignored: logs and the report of the last run


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600, help="length of the chaos phase (default 600)")
    parser.add_argument("--entries", type=int, default=286_000, help="entries over the campaigns (default 286k)")
    parser.add_argument(
        "--campaigns", type=int, default=3, help="campaigns (70%% of the entries go to the first; one of 1k is added)"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="jobs kept running at once (default 4)")
    parser.add_argument("--drain-seconds", type=int, default=420, help="how long jobs may take to end afterwards")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output-dir", type=Path, default=WORK)
    args = parser.parse_args()

    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "logs").mkdir(parents=True)
    services = Services(WORK, workers=2, worker_settings={})

    def interrupted(signum, frame):
        # SIGTERM (a CI timeout, `kill`) must still stop the private servers and workers below.
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    try:
        return _soak(args, services)
    finally:
        services.stop()


def _soak(args, services: Services) -> int:
    started = time.monotonic()
    log("starting PostgreSQL, Redis and moto")
    services.start_servers()
    _create_database(services)
    os.environ.update(services.env())
    os.environ["DJANGO_SETTINGS_MODULE"] = "exportsite.settings"
    # The soak's own process: its enqueues fail while Redis restarts (expected: the job stays
    # PENDING and is sent again), so that logger is muted; the workers log INFO.
    os.environ["LOG_LEVEL"] = "ERROR"
    import django

    django.setup()
    import logging

    logging.getLogger("exports.queue").setLevel(logging.CRITICAL)  # failed enqueues: expected here
    from django.contrib.auth import get_user_model

    from campaigns.services import demo_dataset_create
    from soak.faults import Injector
    from soak.jobs import bodies
    from soak.watch import Watcher

    log(f"dataset: {args.entries:,} entries in {args.campaigns} campaigns, and one of 1,000")
    demo_dataset_create(campaigns=args.campaigns, entries=args.entries, seed=args.seed)
    demo_dataset_create(campaigns=1, entries=1000, seed=args.seed + 1)  # the small end: 1k rows
    user = get_user_model().objects.create_superuser(username="soak", email="", password=None)
    from campaigns.models import Campaign

    pairs = [
        ((body["exportType"], campaign_id), body)
        for campaign_id in Campaign.objects.order_by("pk").values_list("pk", flat=True)
        for body in bodies(campaign_id)
    ]
    services.start_workers()

    log(f"undisturbed reference run: {len(pairs)} jobs")
    reference_watch = Watcher(services, user)
    refused = []
    for key, body in pairs:
        try:
            reference_watch.add(key, body)
        except Exception as error:  # noqa: BLE001 - e.g. a campaign without promoters: a 4xx
            refused.append(f"{key[0]}@{key[1]}: refused: {error}")
    reference_watch.start()
    _wait(lambda: not reference_watch.active(), seconds=args.drain_seconds)
    reference_watch.stopping.set()
    reference_watch.join()
    reference = {job.key: job.digest for job in reference_watch.jobs if job.status == "FINISHED" and job.digest}
    skipped = refused + sorted(
        f"{job.key[0]}@{job.key[1]}: {job.failure}" for job in reference_watch.jobs if job.key not in reference
    )
    for line in skipped:
        log(f"  not in the soak (did not finish undisturbed): {line}")

    log(f"chaos: {args.seconds} s, {args.concurrency} jobs at a time, faults every 3-8 s")
    chosen = random.Random(args.seed)
    runnable = [(key, body) for key, body in pairs if key in reference]
    watcher = Watcher(services, user, reference=reference)
    watcher.start()
    injector = Injector(services, watcher, seed=args.seed)
    injector.start()
    chaos_end = time.monotonic() + args.seconds
    while time.monotonic() < chaos_end:
        while len(watcher.active()) < args.concurrency:
            watcher.add(*chosen.choice(runnable))
        time.sleep(0.5)
    injector.stopping.set()
    injector.join()
    log(f"faults stopped; waiting up to {args.drain_seconds} s for {len(watcher.active())} jobs to end")
    _wait(lambda: not watcher.active(), seconds=args.drain_seconds)
    time.sleep(1)
    watcher.stopping.set()
    watcher.join()
    uploads_seconds = _wait_for_abandoned_uploads(services)

    results = checks(services, watcher, injector, reference, uploads_seconds=uploads_seconds)
    write_report(args.output_dir, results, args=vars(args), seconds=time.monotonic() - started, skipped=skipped)
    log(f"report: {args.output_dir / 'soak-results.md'}")
    for name, (ok, detail) in results["checks"].items():
        log(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    return 0 if all(ok for ok, _ in results["checks"].values()) else 1


def _create_database(services: Services) -> None:
    import psycopg

    with psycopg.connect(services.pg.url, autocommit=True) as connection:
        connection.execute("CREATE DATABASE soak")
    migrate = [sys.executable, "manage.py", "migrate", "--noinput"]
    done = subprocess.run(migrate, cwd=ROOT, env=services.env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"soak: migrate failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")


def _wait_for_abandoned_uploads(services: Services) -> float:
    """Seconds until no multipart upload is open. An upload whose job ended while storage was
    frozen (its abort failed) is the reconciler's: the workers' next maintenance pass, every
    EXPORTS_MAINTENANCE_INTERVAL_SECONDS (shipped: 30), aborts it. Waits two passes at most."""
    from exportsite.conf import export_settings

    started = time.monotonic()
    _wait(lambda: not services.open_uploads(), seconds=2 * export_settings().maintenance_interval_seconds + 5)
    return time.monotonic() - started


def _wait(done, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.5)


if __name__ == "__main__":
    raise SystemExit(main())
