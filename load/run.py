"""The API load test: `make load` (see load/README.md).

gunicorn in production mode (DJANGO_DEBUG=0, its shipped worker and thread defaults) on the load
test's own PostgreSQL database (`exportsite_load` on DATABASE_URL's server, dropped, created and
migrated by every run) with a private redis-server as cache (the throttle counts) and broker.
`manage.py demo_data` makes the campaigns, `manage.py mint_tokens` the accounts and their tokens;
one job per campaign is requested before the run, so that every POST of the run is deduplicated.
Then locust, headless: --users concurrent users for --duration seconds (load/locustfile.py).

The run fails on any 5xx, any request without an answer, and any unexpected status or body; 429s
are counted apart. Results: load/results.json and load/results.md (--smoke: out/load/).
Every process runs in its own session and is stopped when the run ends, also on errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts load/ first on the path, where load/setup.py would shadow any
# library named `setup`: the project root takes its place (they are `load.*`).
sys.path[:] = [str(ROOT)] + [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "load"]

from load.report import endpoint_rows, verdict, write_results  # noqa: E402 - need ROOT on the path
from load.setup import (  # noqa: E402
    HOST,
    load_database_url,
    lock_and_reset_database,
    log,
    prepare_data,
    request_one_job_per_campaign,
    server_env,
    wait_until_serving,
)
from tests.processes import PYTHON, Procs, RedisServer, free_port, gunicorn_argv, proc_stat  # noqa: E402

WORK_DIR = ROOT / "out" / "load"
REQUEST_BODY = {"exportType": "entries"}
ENDPOINTS = [
    "GET /campaigns/[id]/exports",
    "GET /campaigns/[id]/exports/[id]",
    "POST /campaigns/[id]/exports (again)",
    "GET /export-types",
    "GET /heartbeat",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="exportsite API load test (see load/README.md)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--smoke", action="store_true", help="10 seconds; results in out/load/ (CI runs this)")
    parser.add_argument("--users", type=int, default=100, help="concurrent locust users")
    parser.add_argument("--duration", type=int, default=None, help="seconds of load (default 60; --smoke: 10)")
    parser.add_argument("--accounts", type=int, default=200, help="API accounts with tokens (mint_tokens)")
    parser.add_argument("--campaigns", type=int, default=20, help="campaigns the accounts see (demo_data)")
    parser.add_argument("--web-workers", type=int, default=None, help="gunicorn workers (default: the shipped one)")
    parser.add_argument(
        "--database", default=os.environ.get("LOAD_DATABASE", "exportsite_load"),
        help="database of the run on DATABASE_URL's server (dropped and created)",
    )  # fmt: skip
    parser.add_argument("--output-dir", type=Path, default=None, help="results.json/.md (default load/)")
    args = parser.parse_args(argv)
    args.duration = args.duration or (10 if args.smoke else 60)
    args.output_dir = args.output_dir or (WORK_DIR if args.smoke else ROOT / "load")
    if not 1 <= args.users <= 1000 or not 1 <= args.accounts <= 10_000 or args.campaigns < 1:
        parser.error("--users 1…1000, --accounts 1…10000, --campaigns ≥ 1")
    return args


def _gunicorn_shape(env: dict[str, str]) -> tuple[int, int]:
    """Workers and threads exactly as exportsite/gunicorn.py reads them from this environment."""
    code = "import exportsite.gunicorn as g; print(g.workers, g.threads)"
    out = subprocess.run([PYTHON, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    workers, threads = out.split()
    return int(workers), int(threads)


def _group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) so far of the live processes of a process group (gunicorn's)."""
    total = 0
    for entry in Path("/proc").glob("[0-9]*"):
        stat = proc_stat(int(entry.name))
        if stat and stat[2] == pgid:
            with suppress(OSError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_locust(procs: Procs, args: argparse.Namespace, base: str) -> int:
    argv = [
        str(Path(PYTHON).with_name("locust")), "-f", str(ROOT / "load" / "locustfile.py"), "--headless",
        "--users", str(args.users), "--spawn-rate", str(max(1, args.users // 2)), "--run-time", f"{args.duration}s",
        "--host", base, "--only-summary", "--stop-timeout", "10",
    ]  # fmt: skip
    env = {
        **os.environ,
        "LOAD_TOKENS": str(WORK_DIR / "tokens.json"),
        "LOAD_EXPORTS": str(WORK_DIR / "exports.json"),
        "LOAD_TALLY": str(WORK_DIR / "tally.json"),
    }
    log(f"locust: {args.users} users for {args.duration} s against {base}")
    locust = procs.start("locust", argv, env=env)
    try:
        return locust.popen.wait(timeout=args.duration + 120)
    except subprocess.TimeoutExpired:
        raise SystemExit("load: locust did not stop in time" + locust.tail()) from None


def run(args: argparse.Namespace) -> int:
    database_url = load_database_url(os.environ.get("DATABASE_URL", ""), args.database)
    log(f"resetting database {args.database}")
    lock = lock_and_reset_database(database_url)  # first: a concurrent run must not lose its files
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    WORK_DIR.mkdir(parents=True)
    tokens_path = WORK_DIR / "tokens.json"
    procs = Procs(WORK_DIR)
    started, load_average = datetime.now(UTC), os.getloadavg()
    try:
        redis = RedisServer(procs).start()
        port = free_port()
        env = server_env(
            database_url=database_url,
            redis_url=redis.url,
            var_dir=WORK_DIR / "var",
            port=port,
            workers=args.web_workers,
        )
        prepare_data(env, campaigns=args.campaigns, accounts=args.accounts, tokens_path=tokens_path)
        web_workers, web_threads = _gunicorn_shape(env)
        log(f"gunicorn: {web_workers} workers × {web_threads} threads, production mode, on {HOST}:{port}")
        gunicorn = procs.start("gunicorn", gunicorn_argv(), env=env)
        base = f"http://{HOST}:{port}"
        wait_until_serving(base, gunicorn)
        jobs = request_one_job_per_campaign(base, tokens_path, REQUEST_BODY)
        (WORK_DIR / "exports.json").write_text(json.dumps({"body": REQUEST_BODY, "jobs": jobs}))
        cpu_before = _group_cpu_seconds(gunicorn.pid), _children_cpu_seconds(), time.monotonic()
        locust_exit = _run_locust(procs, args, base)
        # Everything runs on this machine: how the cores were shared between server and load.
        cpu = {
            "wall_s": round(time.monotonic() - cpu_before[2], 1),
            "gunicorn_s": round(_group_cpu_seconds(gunicorn.pid) - cpu_before[0], 1),
            "locust_s": round(_children_cpu_seconds() - cpu_before[1], 1),
        }
        gunicorn_alive = gunicorn.alive()
    finally:
        procs.stop_all(timeout=10)
        tokens_path.unlink(missing_ok=True)  # bearer credentials: not left behind
        lock.close()
    if not (WORK_DIR / "tally.json").exists():
        raise SystemExit(f"load: locust wrote no results (exit {locust_exit}); see {WORK_DIR}/locust.err")
    tally = json.loads((WORK_DIR / "tally.json").read_text())
    rows, total = endpoint_rows(tally)
    problems = verdict(rows, total, ENDPOINTS)
    if not gunicorn_alive:
        problems.append("gunicorn exited during the run")
    if locust_exit != 0 and not problems:
        problems.append(f"locust exited with {locust_exit} (see {WORK_DIR}/locust.err)")
    statuses = [row["statuses"] for row in rows]
    results = {
        "command": "make load" + (" LOAD_ARGS=--smoke" if args.smoke else ""),
        "started_at": started.isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}",
        # Server and load share this machine: anything else running shows here.
        "load_average_at_start": [round(value, 2) for value in load_average],
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
        "config": {
            "users": args.users,
            "duration_s": args.duration,
            "accounts": args.accounts,
            "campaigns": args.campaigns,
            "web_workers": web_workers,
            "web_threads": web_threads,
            "api_rate": env.get("EXPORTS_API_RATE", "300/min (default)"),
            "database": args.database,
        },
        "totals": {
            **total,
            "throttled": sum(counts.get("429", 0) for counts in statuses),
            "server_errors": sum(n for counts in statuses for status, n in counts.items() if status.startswith("5")),
        },
        "cpu": cpu,
        "endpoints": rows,
        "problems": problems,
    }
    json_path, md_path = write_results(results, args.output_dir)
    print(md_path.read_text())
    log(f"wrote {json_path} and {md_path}; logs in {WORK_DIR}")
    return 1 if problems else 0


def main() -> None:
    args = parse_args()
    began = time.monotonic()
    code = run(args)
    log(f"{'PASS' if code == 0 else 'FAIL'} in {time.monotonic() - began:.0f} s")
    sys.exit(code)


if __name__ == "__main__":
    main()
