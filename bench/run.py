"""The export hot-path benchmark: `make bench` (see bench/README.md).

Measures, against a PostgreSQL dataset of N entries in its own database, each several times:
  1. the limit: PostgreSQL `COPY (SELECT … the entries rows, ordered by id …) TO STDOUT` into a
     file with `psql \\copy` (no Python);
  2. the naive Django way: model instances `.iterator(2000)` + csv.writer (bench/naive.py);
  3. exportsite's `entries` export end to end through a real worker (`manage.py rundramatiq
     --processes 1 --threads 1`, Redis broker) to filesystem storage;
  4. the same to S3 (a moto server);
  5. the worker's peak RSS at 100k, N (and optionally 5M) rows;
plus the POST → FINISHED latency of a 1k-row export, 20 concurrent small exports, the
peak RSS of a reminderEmail (ZIP) export, and the per-type sweep: every export type against its
own COPY limit (bench/type_sweep.py). Writes bench/results.json and bench/results.md.

Every subprocess (redis-server, moto, workers, psql) runs in its own session and is stopped
(SIGTERM, then SIGKILL) when the run ends, also on errors and Ctrl-C.

This file parses the arguments and runs the rest: bench/setup.py (database, datasets, the
workers' environment and venv), bench/worker.py and bench/measure.py (the processes and the
measurements), bench/sections.py (their order), bench/report.py and bench/results_md.py (the
targets and the results files). The processes come from tests/processes.py, as in the fault tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts bench/ itself first on the path, where its modules would shadow any
# library of the same name: the project root takes its place (they are `bench.*`).
sys.path[:] = [str(ROOT)] + [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"]

from bench.config import (  # noqa: E402 - the imports below need ROOT on the path
    BENCH_DIR,
    BENCH_LOCK_ID,
    DATA_DIR,
    MAX_ENTRIES,
    RSS_SMALL_ENTRIES,
    SMALL_CAMPAIGNS,
    log,
)
from bench.report import evaluate, print_summary, write_results  # noqa: E402
from bench.results_md import render_markdown  # noqa: E402
from bench.sections import Bench  # noqa: E402
from bench.setup import CALLER_SET, base_env, bench_database_url, connect_maintenance, ensure_database  # noqa: E402
from tests.processes import Procs, RedisServer  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env_entries = os.environ.get("BENCH_ENTRIES")
    parser = argparse.ArgumentParser(
        description="exportsite export benchmark (see bench/README.md)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--entries", type=int, default=int(env_entries) if env_entries else None,
        help="entries in the main campaign (default BENCH_ENTRIES, else 1,000,000; --quick: 100,000)",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=None, help="runs of each measurement (default 3; --quick: 1)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 100k entries, 1 run each, results in bench/data/"
    )
    parser.add_argument("--skip-s3", action="store_true", help="skip the S3 (moto) measurement")
    parser.add_argument("--skip-naive", action="store_true", help="skip the naive Django baseline")
    parser.add_argument("--with-5m", action="store_true", help="also measure the worker's RSS at 5M rows (filesystem)")
    parser.add_argument("--skip-types", action="store_true", help="skip the per-type sweep (every export type)")
    parser.add_argument(
        "--types", default=None, metavar="A,B,C",
        help="the per-type sweep runs only these export types (entries, its reference, always runs)",
    )  # fmt: skip
    parser.add_argument("--latency-samples", type=int, default=12, help="1k-row exports for the latency (min 10)")
    parser.add_argument("--concurrent", type=int, default=SMALL_CAMPAIGNS, help="concurrent small exports (max 20)")
    parser.add_argument(
        "--database", default=os.environ.get("BENCH_DATABASE", "exportsite_bench"),
        help="database for the bench dataset (created if missing) on DATABASE_URL's server",
    )  # fmt: skip
    parser.add_argument("--reset-database", action="store_true", help="drop and recreate the bench database first")
    parser.add_argument("--output-dir", type=Path, default=None, help="where results.json/.md go (default bench/)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    if args.entries is None:
        args.entries = RSS_SMALL_ENTRIES if args.quick else 1_000_000
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if not 1000 <= args.entries <= MAX_ENTRIES:
        parser.error(f"--entries must be between 1,000 and {MAX_ENTRIES:,}")
    if not 1 <= args.repeat <= 20:
        parser.error("--repeat must be between 1 and 20")
    args.latency_samples = max(10, min(args.latency_samples, 100))
    args.concurrent = max(1, min(args.concurrent, SMALL_CAMPAIGNS))
    if args.output_dir is None:
        args.output_dir = DATA_DIR if args.quick else BENCH_DIR
    if args.skip_types and args.types:
        parser.error("--types and --skip-types exclude each other")
    args.type_keys = []  # main() resolves --types once Django is set up
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    if "DATABASE_URL" not in os.environ:
        raise SystemExit("bench: set DATABASE_URL to a PostgreSQL server (run it with `make bench`)")
    if shutil.which("redis-server") is None:
        raise SystemExit("bench: the redis-server binary is needed (a private one is started on a free port)")
    database_url = bench_database_url(os.environ["DATABASE_URL"], args.database)
    # One run at a time per server: runs share the bench database and bench/data/last-run,
    # and a second run would delete the first one's jobs and files (and skew its numbers).
    lock = connect_maintenance(database_url)
    if not lock.execute("SELECT pg_try_advisory_lock(%s)", [BENCH_LOCK_ID]).fetchone()[0]:
        raise SystemExit("bench: another bench run is in progress on this PostgreSQL server; try again later")
    ensure_database(database_url, reset=args.reset_database)

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    work = DATA_DIR / "last-run"
    shutil.rmtree(work, ignore_errors=True)
    (work / "logs").mkdir(parents=True)
    procs = Procs(work / "logs")
    redis = RedisServer(procs)  # started once the measurements without a worker are done
    env = base_env(database_url=database_url, broker_url=redis.url, work=work)
    # What the caller set (results.json records those overrides), before the bench adds its own.
    env[CALLER_SET] = ",".join(sorted(name for name in env if name in os.environ))
    os.environ.update(env)
    import django

    django.setup()
    from bench.type_sweep import type_keys

    try:
        args.type_keys = type_keys(args.types)  # the registry needs Django
    except ValueError as exc:
        raise SystemExit(f"bench: --types: {exc}") from exc

    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    bench = Bench(args, env=env, database_url=database_url, work=work, procs=procs, redis=redis)
    try:
        results = bench.run()
    finally:
        bench.stop_worker()
        procs.stop_all(timeout=5)
        lock.close()
    results["environment"]["load_average_end"] = os.getloadavg()
    results["runtime_seconds"] = time.monotonic() - started
    evaluate(results)
    write_results(results, args.output_dir)
    print()
    print(render_markdown(results))
    print_summary(results)
    log(f"wrote {args.output_dir / 'results.json'} and {args.output_dir / 'results.md'}; logs in {work / 'logs'}")
    failed = any(t["result"] == "FAIL" for t in results["targets"].values())
    return 1 if results.get("errors") or (args.strict and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
