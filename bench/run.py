"""The export hot-path benchmark: `make bench` (see bench/README.md).

Measures, against a PostgreSQL dataset of N entries in its own database, each several times:
  1. the limit: PostgreSQL `COPY (SELECT … the entries rows, ordered by id …) TO STDOUT` into a
     file with `psql \\copy` (no Python);
  2. the naive Django way: model instances `.iterator(2000)` + csv.writer (bench/naive.py);
  3. exportsite's `entries` export end to end through a real worker (`manage.py rundramatiq
     --processes 1 --threads 1`, Redis broker) to filesystem storage;
  4. the same to S3 (a moto server);
  5. the worker's peak RSS at 100k, N (and optionally 5M) rows;
plus the POST → FINISHED latency of a 1k-row export, 20 concurrent small exports, and the
peak RSS of a reminderEmail (ZIP) export. Writes bench/results.json and bench/results.md.

Every subprocess (redis-server, moto, workers, psql) runs in its own session and is stopped
(SIGTERM, then SIGKILL) when the run ends, also on errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.processes import Proc, Procs, free_port, proc_stat  # noqa: E402 - needs ROOT on the path

BENCH_DIR = ROOT / "bench"
DATA_DIR = BENCH_DIR / "data"  # git-ignored: logs and the files of the last run
RUNTIME_VENV = DATA_DIR / "runtime-venv"
PYTHON = sys.executable
# The worker runs from a venv of requirements.txt alone, as deployed: the dev/test extras
# (moto, cryptography, playwright…) are not in a production worker, and some are imported when
# present (django-storages loads cryptography for CloudFront signing: 11 MB of RSS).
MAX_ENTRIES = 5_000_000
RSS_SMALL_ENTRIES = 100_000
BIG_ENTRIES = 5_000_000
SMALL_CAMPAIGNS = 20
SMALL_ENTRIES = 1000
# demo_dataset_create puts 70% in the first campaign and shares the rest evenly: with 21
# campaigns and this total, campaigns 2-21 get exactly SMALL_ENTRIES entries each.
SMALL_DATASET_TOTAL = 66_667
TERMINAL = ("FINISHED", "FAILED", "CANCELLED", "EXPIRED")
S3_BUCKET = "bench-exports"
S3_CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}
REDIS_NAMESPACE = "dramatiq"  # what exportsite.settings gives its RedisBroker
BENCH_LOCK_ID = 0x62656E6368  # pg_try_advisory_lock key ("bench"), held for the whole run
MOTO_RESTART_MB = 3000  # moto keeps objects in memory even after a delete; restart it above this
# Variables of the caller's environment passed to the workers (to try settings, e.g.
# EXPORTS_PART_SIZE_KB or EXPORTS_COPY_FAST_PATH=0); storage locations are the bench's own.
PASSTHROUGH_PREFIX = "EXPORTS_"
# The session settings of the export's COPY batches (exports/engine/copy/rows.py, BATCH_PLANNER):
# an index walk with primary-key lookups, no JIT, no parallel workers.
INDEX_PLAN = "-c jit=off -c enable_hashjoin=off -c enable_mergejoin=off -c max_parallel_workers_per_gather=0"
NOT_PASSED = ("EXPORTS_LOCAL_DIR", "EXPORTS_MAX_ACTIVE_PER_USER", "EXPORTS_WORKER_METRICS_PORT")

TARGETS = {
    "fs_vs_copy": ("entries export → filesystem vs COPY (rows/s)", 0.6, "≥"),
    "s3_vs_copy": ("entries export → S3 (moto) vs COPY (rows/s)", 0.5, "≥"),
    "fs_vs_naive": ("entries export → filesystem vs naive Django (rows/s)", 8.0, "≥"),
    "worker_peak_rss_mb": ("worker peak RSS, process tree, any entries run (MB)", 150.0, "≤"),
    "rss_growth": ("worker peak RSS, largest filesystem run vs 100k", 1.10, "≤"),
    "latency_1k_median_s": ("1k-row export POST → FINISHED, median (s)", 1.0, "≤"),
}


class BenchError(Exception):
    pass


def log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


# --- processes -------------------------------------------------------------------------------


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.05, proc: Proc | None = None):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and not proc.alive():
            raise BenchError(f"{proc.name} exited while waiting for {what}" + proc.tail())
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout}s waiting for {what}" + (proc.tail() if proc else ""))
        time.sleep(interval)


def run_child(argv: list[str], *, env: dict, timeout: float) -> tuple[float, float, str]:
    """Run a command to completion; (wall seconds, the child's peak RSS in MB, its stdout).

    The peak is the child's VmHWM, polled every 10 ms (its rusage ru_maxrss would include the
    pages it shared with this process between fork and exec)."""
    started = time.perf_counter()
    popen = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    peak_kb = [0]
    finished = threading.Event()

    def poll_hwm() -> None:
        while not finished.is_set():
            peak_kb[0] = max(peak_kb[0], _status_kb(popen.pid).get("VmHWM", 0))
            finished.wait(0.01)

    poller = threading.Thread(target=poll_hwm, daemon=True)
    poller.start()
    try:
        stdout, stderr = popen.communicate(timeout=timeout)
    except BaseException:
        with suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()
        raise
    finally:
        finished.set()
        poller.join()
    seconds = time.perf_counter() - started
    if popen.returncode != 0:
        raise BenchError(f"{argv[0]} exited with {popen.returncode}: {stderr.decode(errors='replace')[-3000:]}")
    return seconds, peak_kb[0] / 1024, stdout.decode(errors="replace")


# --- memory of a process tree ------------------------------------------------------------------


def _status_kb(pid: int) -> dict[str, int]:
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, amount = line.split(":", 1)
                values[name] = int(amount.split()[0])
    except OSError:
        pass
    return values


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        stat = proc_stat(int(entry.name))
        if stat and stat[0] != "Z":
            children.setdefault(stat[1], []).append(int(entry.name))
    tree, queue = [], [root]
    while queue:
        pid = queue.pop()
        if proc_stat(pid) is None:
            continue
        tree.append(pid)
        queue.extend(children.get(pid, []))
    return tree


def _process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()[:120]
    except OSError:
        return "?"


class TreeSampler(threading.Thread):
    """Polls VmRSS of every process in a tree (default every 20 ms) and tracks the peak of
    their sum; `window_start` also resets each process's VmHWM (`/proc/PID/clear_refs` = 5),
    so `window_end` reports the kernel's exact per-process peak for the window too."""

    def __init__(self, root: int, interval: float = 0.02):
        super().__init__(name=f"rss-{root}", daemon=True)
        self.root = root
        self.interval = interval
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._pids: list[int] = []
        self._pids_at = 0.0
        self._tree_peak_kb = 0
        self._peaks_kb: dict[int, int] = {}
        self.hwm_reset = True

    def _refresh(self, force: bool = False) -> list[int]:
        now = time.monotonic()
        if force or now - self._pids_at > 0.5:
            self._pids, self._pids_at = process_tree(self.root), now
        return self._pids

    def sample(self) -> None:
        with self._lock:
            total = 0
            for pid in self._refresh():
                rss = _status_kb(pid).get("VmRSS", 0)
                total += rss
                self._peaks_kb[pid] = max(self._peaks_kb.get(pid, 0), rss)
            self._tree_peak_kb = max(self._tree_peak_kb, total)

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()

    def window_start(self) -> None:
        with self._lock:
            for pid in self._refresh(force=True):
                try:
                    Path(f"/proc/{pid}/clear_refs").write_text("5")
                except OSError:
                    self.hwm_reset = False
            self._tree_peak_kb = 0
            self._peaks_kb = {}
        self.sample()

    def window_end(self) -> dict:
        self.sample()
        with self._lock:
            processes = []
            for pid in self._refresh(force=True):
                status = _status_kb(pid)
                hwm = status.get("VmHWM", 0) if self.hwm_reset else 0
                processes.append(
                    {
                        "pid": pid,
                        "command": _process_name(pid),
                        "hwm_mb": round(hwm / 1024, 1) if self.hwm_reset else None,
                        "sampled_peak_mb": round(self._peaks_kb.get(pid, 0) / 1024, 1),
                        "rss_after_mb": round(status.get("VmRSS", 0) / 1024, 1),
                    }
                )
            peak_process = max(
                (max(p["hwm_mb"] or 0, p["sampled_peak_mb"]) for p in processes),
                default=0,
            )
            hwm_sum = sum((p["hwm_mb"] or p["sampled_peak_mb"]) for p in processes)
            return {
                "tree_peak_mb": round(self._tree_peak_kb / 1024, 1),
                "tree_hwm_sum_mb": round(hwm_sum, 1),
                "process_peak_mb": round(peak_process, 1),
                "processes": processes,
            }


# --- statistics and formatting -----------------------------------------------------------------


def spread(values: list[float]) -> dict:
    if not values:
        return {"min": None, "median": None, "max": None}
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def summarize(runs: list[dict]) -> dict:
    ok = [run for run in runs if "error" not in run]
    summary = {
        "runs": len(ok),
        "rows": ok[0]["rows"] if ok else None,
        "bytes": ok[0]["bytes"] if ok else None,
        "seconds": spread([run["seconds"] for run in ok]),
        "rows_per_s": spread([run["rows"] / run["seconds"] for run in ok]),
        "mb_per_s": spread([run["bytes"] / 1e6 / run["seconds"] for run in ok]),
    }
    if ok and "worker_seconds" in ok[0]:
        summary["worker_seconds"] = spread([run["worker_seconds"] for run in ok])
        summary["queue_seconds"] = spread([run["queue_seconds"] for run in ok])
    if ok and "rss" in ok[0]:
        summary["worker_tree_peak_mb"] = max(run["rss"]["tree_peak_mb"] for run in ok)
        summary["worker_process_peak_mb"] = max(run["rss"]["process_peak_mb"] for run in ok)
    if ok and "peak_rss_mb" in ok[0]:
        summary["peak_rss_mb"] = max(run["peak_rss_mb"] for run in ok)
    errors = [run["error"] for run in runs if "error" in run]
    if errors:
        summary["errors"] = errors
    return summary


def fmt_num(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and value != value:  # NaN
        return "–"
    return f"{value:,.{digits}f}"


def fmt_spread(values: dict, digits: int = 0) -> str:
    if values.get("median") is None:
        return "–"
    return " / ".join(fmt_num(values[key], digits) for key in ("min", "median", "max"))


def size_label(rows: int) -> str:
    if rows >= 1_000_000 and rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows >= 1000 and rows % 1000 == 0:
        return f"{rows // 1000}k"
    return f"{rows:,}"


# --- the run ---------------------------------------------------------------------------------


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
    return args


def bench_database_url(url: str, name: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql", "pgsql"):
        raise SystemExit("bench: DATABASE_URL must be a postgres:// URL (run it with `make bench`)")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
        raise SystemExit(f"bench: invalid database name {name!r}")
    return urlunparse(parsed._replace(path="/" + name))


def _connect_maintenance(url: str):
    import psycopg

    parsed = urlparse(url)
    return psycopg.connect(urlunparse(parsed._replace(path="/postgres")), autocommit=True)


def ensure_database(url: str, *, reset: bool) -> bool:
    """Create the bench database if missing (drop it first with reset); True if created."""
    name = urlparse(url).path.lstrip("/")
    with _connect_maintenance(url) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None
        if exists and reset:
            log(f"dropping database {name}")
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = False
        if not exists:
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')
    return not exists


def base_env(*, database_url: str, broker_url: str, work: Path) -> dict:
    # PGOPTIONS (libpq) reaches every client: the workers, the naive baseline and psql.
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "TZ", "PGOPTIONS")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(
        {
            name: value
            for name, value in os.environ.items()
            if name.startswith(PASSTHROUGH_PREFIX) and name not in NOT_PASSED and "_STORAGE_" not in name
        }
    )
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "exportsite.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
            "JWT_SIGNING_KEY": "bench-jwt-signing-key-not-for-production-0123456789",
            "EXPORTS_WEBHOOK_SECRET": "bench-webhook-secret-not-for-production-0123456789",
            "EXPORTS_DOWNLOAD_SIGNING_KEY": "bench-download-key-not-for-production-0123456789",
            # The bench's own Redis also holds the shared cache (throttle counts).
            "DJANGO_CACHE_URL": broker_url,
            "DJANGO_ALLOWED_HOSTS": "localhost",
            "EXPORTSITE_VAR_DIR": str(work / "var"),
            "EXPORTS_LOCAL_DIR": str(work / "files"),
            "EXPORTS_MAX_ACTIVE_PER_USER": "0",  # 20 concurrent jobs of one user
            "DATABASE_URL": database_url,
            "DRAMATIQ_BROKER_URL": broker_url,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": os.environ.get("BENCH_WORKER_LOG_LEVEL", "WARNING"),
        }
    )
    return env


class Bench:
    def __init__(self, args: argparse.Namespace, *, env: dict, database_url: str, work: Path, procs: Procs):
        self.args = args
        self.env = env
        self.database_url = database_url
        self.work = work
        self.procs = procs
        self.files_dir = work / "files"
        self.results: dict = {"measurements": {}, "errors": {}}
        self.redis_port = int(urlparse(env["DRAMATIQ_BROKER_URL"]).port)
        self.redis: Proc | None = None
        self.moto: Proc | None = None
        self.moto_endpoint = ""
        self.worker: Proc | None = None
        self.sampler: TreeSampler | None = None
        self.storage_mode = "filesystem"
        self.user = None

    # --- setup ---------------------------------------------------------------------------

    def setup_database(self) -> None:
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from exports.models import Export

        log("migrating the bench database")
        call_command("migrate", verbosity=0, interactive=False)
        # Jobs of earlier runs (a killed run may leave PENDING ones a worker would pick up at boot).
        Export.objects.all().delete()
        user_model = get_user_model()
        self.user = user_model.objects.filter(username="bench").first()
        if self.user is None:
            self.user = user_model.objects.create_superuser(username="bench", email="", password=None)

    def ensure_datasets(self) -> dict:
        entries = self.args.entries
        datasets = {"main": self._dataset(f"entries-{entries}", campaigns=1, total=entries, seed=1)}
        if entries != RSS_SMALL_ENTRIES:
            datasets["100k"] = self._dataset(
                f"entries-{RSS_SMALL_ENTRIES}", campaigns=1, total=RSS_SMALL_ENTRIES, seed=3
            )
        else:
            datasets["100k"] = datasets["main"]
        if self.args.with_5m:
            if entries == BIG_ENTRIES:
                datasets["5M"] = datasets["main"]
            else:
                datasets["5M"] = self._dataset(f"entries-{BIG_ENTRIES}", campaigns=1, total=BIG_ENTRIES, seed=5)
        datasets["small"] = self._dataset(
            f"small-{SMALL_CAMPAIGNS}x{SMALL_ENTRIES}", campaigns=SMALL_CAMPAIGNS + 1, total=SMALL_DATASET_TOTAL, seed=2
        )
        return datasets

    def _dataset(self, name: str, *, campaigns: int, total: int, seed: int) -> dict:
        """A dataset made by demo_dataset_create, reused when the bench database already has it
        with the entry counts recorded when it was made (table bench_dataset)."""
        from django.db import connection

        from campaigns.models import Campaign
        from campaigns.services import demo_dataset_create

        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS bench_dataset (name text PRIMARY KEY, campaign_ids bigint[] NOT NULL, "
                "entries bigint NOT NULL, made_seconds double precision, made_at timestamptz NOT NULL DEFAULT now())"
            )
            cursor.execute("ALTER TABLE bench_dataset ADD COLUMN IF NOT EXISTS counts bigint[]")
            cursor.execute("SELECT campaign_ids, counts, made_seconds FROM bench_dataset WHERE name = %s", [name])
            row = cursor.fetchone()
        if row:
            ids, recorded, made_seconds = list(row[0]), row[1], row[2]
            counts = self._entry_counts(ids)
            if sum(counts) == total and (recorded is None or list(recorded) == counts):
                log(f"dataset {name}: reused (campaigns {ids[0]}…{ids[-1]})")
                if recorded is None:
                    self._record_dataset(name, ids, total, counts, made_seconds)
                return {
                    "name": name,
                    "campaign_ids": ids,
                    "sizes": counts,
                    "reused": True,
                    "made_seconds": made_seconds,
                }
            log(f"dataset {name}: its entry counts changed; making it again")
        log(f"dataset {name}: creating {total:,} entries in {campaigns} campaign(s) (demo_dataset_create, seed {seed})")
        before = set(Campaign.objects.values_list("pk", flat=True))
        started = time.monotonic()
        next_report = [0.0]

        def progress(done: int, whole: int) -> None:
            if done / whole >= next_report[0]:
                log(f"  {done:,} / {whole:,} rows ({time.monotonic() - started:.0f}s)")
                next_report[0] += 0.2

        demo_dataset_create(campaigns=campaigns, entries=total, seed=seed, progress=progress)
        made_seconds = time.monotonic() - started
        ids = sorted(set(Campaign.objects.values_list("pk", flat=True)) - before)
        log(f"dataset {name}: made in {made_seconds:.0f}s; VACUUM ANALYZE")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
        counts = self._entry_counts(ids)
        self._record_dataset(name, ids, total, counts, made_seconds)
        return {"name": name, "campaign_ids": ids, "sizes": counts, "reused": False, "made_seconds": made_seconds}

    @staticmethod
    def _entry_counts(campaign_ids: list[int]) -> list[int]:
        from django.db.models import Count

        from campaigns.models import Entry

        rows = Entry.objects.filter(campaign_id__in=campaign_ids).values("campaign_id").annotate(n=Count("id"))
        counts = {row["campaign_id"]: row["n"] for row in rows}
        return [counts.get(pk, 0) for pk in campaign_ids]

    @staticmethod
    def _record_dataset(name: str, ids: list[int], total: int, counts: list[int], made_seconds) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO bench_dataset (name, campaign_ids, entries, counts, made_seconds) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET campaign_ids = EXCLUDED.campaign_ids, "
                "entries = EXCLUDED.entries, counts = EXCLUDED.counts, made_seconds = EXCLUDED.made_seconds, "
                "made_at = now()",
                [name, ids, total, counts, made_seconds],
            )

    def environment(self) -> dict:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            pg_version = cursor.fetchone()[0]
            settings = {}
            for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "jit", "jit_above_cost",
                         "jit_optimize_above_cost", "jit_inline_above_cost"):  # fmt: skip
                cursor.execute(f"SHOW {name}")
                settings[name] = cursor.fetchone()[0]
        try:
            commit = subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.strip()
            # The bench's own outputs do not make the tree dirty.
            status = ["git", "status", "--porcelain", "--", ".", ":!bench/results.json", ":!bench/results.md"]
            dirty = bool(subprocess.run(status, cwd=ROOT, capture_output=True, text=True).stdout.strip())
        except (OSError, subprocess.CalledProcessError):
            commit, dirty = "unknown", False
        cpu = "unknown"
        with suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        mem_gb = None
        with suppress(OSError, ValueError, IndexError):
            mem_gb = round(int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024, 1)
        return {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "git_commit": commit + ("+dirty" if dirty else ""),
            "python": platform.python_version(),
            "postgresql": pg_version,
            "postgresql_settings": settings,
            "cpus": os.cpu_count(),
            "cpu_model": cpu,
            "memory_gb": mem_gb,
            "load_average_start": os.getloadavg(),
            "worker_env_overrides": {
                k: v
                for k, v in self.env.items()
                if (k.startswith(PASSTHROUGH_PREFIX) or k == "PGOPTIONS") and k in os.environ
            },
        }

    # --- services ------------------------------------------------------------------------

    def start_redis(self) -> None:
        import redis

        argv = [
            "redis-server",
            "--port",
            str(self.redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.redis = self.procs.start("redis", argv, env=dict(os.environ))

        def ping() -> bool:
            try:
                return bool(redis.Redis(port=self.redis_port, socket_timeout=1).ping())
            except redis.exceptions.ConnectionError:
                return False

        wait_for(ping, timeout=15, what="redis-server", proc=self.redis)

    def redis_client(self):
        import redis

        return redis.Redis(port=self.redis_port, socket_timeout=5)

    def start_moto(self, port: int | None = None) -> None:
        import boto3

        port = port or free_port()
        self.moto_endpoint = f"http://127.0.0.1:{port}"
        argv = [PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        self.moto = self.procs.start("moto", argv, env=dict(os.environ))

        def up() -> bool:
            try:
                with urllib.request.urlopen(self.moto_endpoint, timeout=1) as response:
                    return response.status < 500
            except OSError:
                return False

        wait_for(up, timeout=30, what="moto server", interval=0.1, proc=self.moto)
        boto3.client("s3", endpoint_url=self.moto_endpoint, **S3_CREDENTIALS).create_bucket(Bucket=S3_BUCKET)

    def s3_client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.moto_endpoint, **S3_CREDENTIALS)

    def start_worker(self, *, s3: bool) -> None:
        env = dict(self.env)
        if s3:
            env.update(
                {
                    "AWS_S3_ENDPOINT_URL": self.moto_endpoint,
                    "AWS_ACCESS_KEY_ID": S3_CREDENTIALS["aws_access_key_id"],
                    "AWS_SECRET_ACCESS_KEY": S3_CREDENTIALS["aws_secret_access_key"],
                    "AWS_S3_REGION_NAME": S3_CREDENTIALS["region_name"],
                    "EXPORTS_STORAGE_EXPORTS_BUCKET": S3_BUCKET,
                }
            )
        self.storage_mode = "s3" if s3 else "filesystem"
        client = self.redis_client()
        client.delete(f"{REDIS_NAMESPACE}:__heartbeats__")
        argv = [runtime_python(), "manage.py", "rundramatiq", "--processes", "1", "--threads", "1"]
        self.worker = self.procs.start("worker-s3" if s3 else "worker-fs", argv, env=env)
        wait_for(
            lambda: client.zcard(f"{REDIS_NAMESPACE}:__heartbeats__") > 0,
            timeout=90,
            what="the worker to consume",
            interval=0.1,
            proc=self.worker,
        )
        # Its processes: the dramatiq main process (rundramatiq execs it) and the worker process.
        wait_for(lambda: len(process_tree(self.worker.pid)) >= 2, timeout=30, what="worker processes", proc=self.worker)
        self.sampler = TreeSampler(self.worker.pid)
        self.sampler.start()

    def stop_worker(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
            self.sampler = None
        if self.worker is not None:
            self.worker.stop(timeout=20)
            self.worker = None

    # --- one export ----------------------------------------------------------------------

    def request(self, campaign_id: int, body: dict):
        from exports.services import export_request

        export, created = export_request(campaign_id=campaign_id, body=body, user=self.user)
        if not created:
            raise BenchError(f"export of campaign {campaign_id} {body} was merged with an active job")
        return export

    def wait_done(self, export_ids: list, *, started: float, timeout: float, poll: float) -> dict:
        """Poll until every job is terminal; {id: (seconds since `started`, row)}."""
        from exports.models import Export

        done: dict = {}
        fields = ("status", "row_count", "bytes_written", "created_at", "triggered_at", "finished_at", "storage_alias")
        fields += ("storage_keys", "error_message", "error_payload", "attempts")
        while len(done) < len(export_ids):
            rows = Export.objects.filter(pk__in=[pk for pk in export_ids if pk not in done]).values("pk", *fields)
            now = time.perf_counter()
            for row in rows:
                if row["status"] in TERMINAL:
                    done[row["pk"]] = (now - started, row)
            if len(done) == len(export_ids):
                break
            if self.worker is not None and not self.worker.alive():
                raise BenchError("the worker died" + self.worker.tail())
            if now - started > timeout:
                raise BenchError(
                    f"exports not finished after {timeout:.0f}s" + (self.worker.tail() if self.worker else "")
                )
            time.sleep(poll)
        for _, row in done.values():
            if row["status"] != "FINISHED":
                raise BenchError(f"export ended {row['status']}: {row['error_message']} {row['error_payload']}")
        return done

    def export_once(self, campaign_id: int, export_type: str = "entries", *, expect_rows: int, poll: float = 0.02,
                    body: dict | None = None, rss: bool = True) -> dict:  # fmt: skip
        if rss and self.sampler is not None:
            self.sampler.window_start()
        timeout = 120 + expect_rows / 5000
        started = time.perf_counter()
        export = self.request(campaign_id, {"exportType": export_type, **(body or {})})
        seconds, row = self.wait_done([export.pk], started=started, timeout=timeout, poll=poll)[export.pk]
        result = {
            "seconds": seconds,
            "rows": row["row_count"],
            "bytes": row["bytes_written"],
            "worker_seconds": (row["finished_at"] - row["triggered_at"]).total_seconds(),
            "queue_seconds": (row["triggered_at"] - row["created_at"]).total_seconds(),
            "attempts": row["attempts"],
        }
        if rss and self.sampler is not None:
            result["rss"] = self.sampler.window_end()
        self.delete_output(row)
        return result

    def delete_output(self, row: dict) -> None:
        keys = row["storage_keys"] or []
        if self.storage_mode == "s3" and row["storage_alias"] == "exports":
            client = self.s3_client()
            for key in keys:
                client.delete_object(Bucket=S3_BUCKET, Key=key)
        else:
            for key in keys:
                (self.files_dir / row["storage_alias"] / key).unlink(missing_ok=True)

    # --- measurements --------------------------------------------------------------------

    def measure(self, name: str, label: str, make_run, runs: int) -> dict:
        log(f"{label}: {runs} run(s)")
        results = []
        for index in range(runs):
            try:
                run = make_run()
            except BenchError as exc:
                run = {"error": str(exc)[:4000]}
                log(f"  run {index + 1}: ERROR {str(exc)[:600]}")
            else:
                extra = ""
                if "rss" in run:
                    extra = f", worker RSS tree {run['rss']['tree_peak_mb']:.0f} MB"
                    extra += f" (export process {run['rss']['process_peak_mb']:.0f} MB)"
                elif "peak_rss_mb" in run:
                    extra = f", peak RSS {run['peak_rss_mb']:.0f} MB"
                log(
                    f"  run {index + 1}: {run['rows']:,} rows in {run['seconds']:.2f}s = "
                    f"{run['rows'] / run['seconds']:,.0f} rows/s{extra}"
                )
            results.append(run)
        measurement = {"label": label, **summarize(results), "all_runs": results}
        self.results["measurements"][name] = measurement
        return measurement

    def limit_sql(self, campaign_id: int) -> str:
        from campaigns.models import Campaign, Entry, Fan, Market

        campaign = Campaign.objects.get(pk=campaign_id)
        answers = "".join(
            ", e.answers ->> '{}'".format(str(p.get("id", "")).replace("'", "''")) for p in campaign.preferences or []
        )
        return (
            "SELECT e.id, c.name, e.created_at, f.tm_id, f.global_user_id, e.ip_address, "
            "COALESCE(NULLIF(e.email, ''), f.email), COALESCE(NULLIF(f.first_name, ''), e.first_name), "
            "COALESCE(NULLIF(f.last_name, ''), e.last_name), COALESCE(NULLIF(e.ip_postal_code, ''), f.postal_code), "
            "COALESCE(NULLIF(e.phone, ''), f.phone), f.member_id, m.name, m.event_ids, e.locale, e.campaign_id, "
            f"e.phone_confirmed_at IS NOT NULL{answers} "
            f"FROM {Entry._meta.db_table} e JOIN {Fan._meta.db_table} f ON f.id = e.fan_id "
            f"JOIN {Market._meta.db_table} m ON m.id = e.market_id "
            f"JOIN {Campaign._meta.db_table} c ON c.id = e.campaign_id "
            f"WHERE e.campaign_id = {int(campaign_id)} ORDER BY e.id"
        )

    def copy_limit_once(self, campaign_id: int, *, planner: str = "") -> dict:
        """One `psql \\copy` of the limit query; `planner`: extra PGOPTIONS (session settings)."""
        out = self.work / "copy-limit.tsv"
        sql = self.limit_sql(campaign_id)
        env = dict(os.environ)
        if planner:
            env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} {planner}".strip()
        if shutil.which("psql"):
            command = f"\\copy ({sql}) TO '{out}' WITH (FORMAT csv, DELIMITER E'\\t', NULL '', HEADER)"
            argv = ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-d", self.database_url, "-c", command]
        else:  # psycopg COPY in a subprocess
            script = (
                "import sys, psycopg\n"
                "with psycopg.connect(sys.argv[1]) as c, open(sys.argv[2], 'wb') as f, c.cursor() as cur:\n"
                "    with cur.copy(sys.argv[3]) as copy:\n"
                "        for data in copy: f.write(data)\n"
                "    print('COPY', cur.rowcount)\n"
            )
            statement = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, DELIMITER E'\\t', NULL '', HEADER)"
            argv = [PYTHON, "-c", script, self.database_url, str(out), statement]
        try:
            seconds, peak_mb, stdout = run_child(argv, env=env, timeout=1800)
            match = re.search(r"COPY (\d+)", stdout)
            rows = int(match.group(1)) if match else None
            size = out.stat().st_size
        finally:
            out.unlink(missing_ok=True)
        if rows is None:
            raise BenchError(f"no row count from the COPY client: {stdout[-500:]}")
        return {"seconds": seconds, "rows": rows, "bytes": size, "peak_rss_mb": peak_mb}

    def naive_once(self, campaign_id: int) -> dict:
        out = self.work / "naive.tsv"
        argv = [PYTHON, str(BENCH_DIR / "naive.py"), "--campaign", str(campaign_id), "--out", str(out)]
        try:
            wall, peak_mb, stdout = run_child(argv, env=self.env, timeout=7200)
        finally:
            out.unlink(missing_ok=True)
        result = json.loads(stdout.strip().splitlines()[-1])
        return {**result, "process_seconds": wall, "peak_rss_mb": peak_mb}

    def latency(self, campaign_ids: list[int], *, samples: int, gap: float) -> dict:
        """POST → FINISHED of 1k-row exports, one after another, `gap` seconds apart."""
        runs = []
        for index in range(samples):
            if gap:
                time.sleep(gap)
            campaign_id = campaign_ids[index % len(campaign_ids)]
            try:
                runs.append(self.export_once(campaign_id, expect_rows=SMALL_ENTRIES, poll=0.005, rss=False))
            except BenchError as exc:
                runs.append({"error": str(exc)[:2000]})
        ok = [run for run in runs if "error" not in run]
        result = {
            "gap_seconds": gap,
            "samples": len(ok),
            "rows": ok[0]["rows"] if ok else None,
            "seconds": spread([run["seconds"] for run in ok]),
            "queue_seconds": spread([run["queue_seconds"] for run in ok]),
            "worker_seconds": spread([run["worker_seconds"] for run in ok]),
            "all_seconds": [round(run["seconds"], 4) for run in ok],
        }
        if len(ok) < len(runs):
            result["errors"] = [run["error"] for run in runs if "error" in run]
        if result["seconds"]["median"] is not None:
            log(
                f"  gap {gap}s: median {result['seconds']['median']:.3f}s (min {result['seconds']['min']:.3f}, "
                f"max {result['seconds']['max']:.3f}); queue wait median {result['queue_seconds']['median']:.3f}s, "
                f"run median {result['worker_seconds']['median']:.3f}s"
            )
        return result

    def concurrent(self, campaign_ids: list[int]) -> dict:
        """All requested at once (one per campaign, so dedupe merges nothing); time to the last FINISHED."""
        if self.sampler is not None:
            self.sampler.window_start()
        started = time.perf_counter()
        exports = [self.request(pk, {"exportType": "entries"}) for pk in campaign_ids]
        requested = time.perf_counter() - started
        done = self.wait_done([e.pk for e in exports], started=started, timeout=600, poll=0.01)
        total = max(seconds for seconds, _ in done.values())
        rows = sum(row["row_count"] for _, row in done.values())
        for _, row in done.values():
            self.delete_output(row)
        result = {
            "exports": len(exports),
            "rows": rows,
            "seconds": total,
            "request_seconds": requested,
            "per_export_seconds": spread([seconds for seconds, _ in done.values()]),
            "worker_seconds_each": spread(
                [(row["finished_at"] - row["triggered_at"]).total_seconds() for _, row in done.values()]
            ),
            "exports_per_s": len(exports) / total,
        }
        if self.sampler is not None:
            result["rss"] = self.sampler.window_end()
        log(f"  {len(exports)} exports ({rows:,} rows) all FINISHED in {total:.2f}s ({len(exports) / total:.1f}/s)")
        return result

    def section(self, name: str, function) -> None:
        try:
            function()
        except (BenchError, Exception) as exc:  # noqa: BLE001 - recorded; the other sections still run
            log(f"{name}: ERROR {exc}")
            self.results["errors"][name] = "".join(traceback.format_exception(exc))[-6000:]

    def run(self) -> dict:
        args = self.args
        self.setup_database()
        started = time.monotonic()
        datasets = self.ensure_datasets()
        self.results["dataset_seconds"] = time.monotonic() - started
        main_id, main_rows = datasets["main"]["campaign_ids"][0], args.entries
        # The 20 smallest campaigns of the small dataset (SMALL_ENTRIES entries each with today's generator).
        small = sorted(zip(datasets["small"]["sizes"], datasets["small"]["campaign_ids"], strict=True))
        small_ids = sorted(pk for _, pk in small[:SMALL_CAMPAIGNS])
        self.results["datasets"] = datasets
        self.results["environment"] = self.environment()
        self.results["parameters"] = {
            "entries": main_rows,
            "repeat": args.repeat,
            "quick": args.quick,
            "skip_s3": args.skip_s3,
            "with_5m": args.with_5m,
            "latency_samples": args.latency_samples,
            "concurrent": args.concurrent,
            "database": urlparse(self.database_url).path.lstrip("/"),
            "worker": "manage.py rundramatiq --processes 1 --threads 1",
        }
        label = size_label(main_rows)

        # 1. the limit (one untimed run first: the dataset may be cold after creation). PostgreSQL's
        # own plan depends on what else the database holds (with the 5M campaign present it turned
        # to a parallel hash join over every fan, 30% slower), so the limit is the faster of that
        # plan and the index plan the export's batches use, each measured.
        def copy_limit() -> None:
            log("COPY limit: warm-up run")
            self.copy_limit_once(main_id)
            variants = [
                self.measure("copy_limit_own_plan", f"COPY limit (psql \\copy), PostgreSQL's own plan, {label}",
                             lambda: self.copy_limit_once(main_id), args.repeat),
                self.measure("copy_limit_index_plan", f"COPY limit (psql \\copy), index plan, {label}",
                             lambda: self.copy_limit_once(main_id, planner=INDEX_PLAN), args.repeat),
            ]  # fmt: skip
            rates = [(v.get("rows_per_s") or {}).get("median") or 0 for v in variants]
            best = variants[rates.index(max(rates))]
            plan = "PostgreSQL's own plan" if best is variants[0] else "index plan"
            self.results["measurements"]["copy_limit"] = {
                **best,
                "label": f"COPY limit (psql \\copy): the faster plan, {plan}, {label}",
                "plan": plan,
            }

        self.section("copy_limit", copy_limit)

        # 2. naive Django
        if not args.skip_naive:
            self.section(
                "naive_django",
                lambda: self.measure(
                    "naive_django", f"naive Django (instances + csv.writer), {label}",
                    lambda: self.naive_once(main_id), args.repeat,
                ),
            )  # fmt: skip

        # 3 + 5. the real worker, filesystem storage
        self.start_redis()
        self.section("worker_filesystem", lambda: self._filesystem_worker(datasets, small_ids, main_id, main_rows))
        self.stop_worker()

        # ZIP memory, on a fresh worker (a long-lived one keeps memory from the earlier runs)
        def zip_check() -> None:
            self.start_worker(s3=False)
            self.export_once(small_ids[0], expect_rows=SMALL_ENTRIES, rss=False)  # warm-up
            self.measure(
                "zip_reminder_email", f"reminderEmail ZIP → filesystem, campaign of {label} entries",
                lambda: self.export_once(main_id, "reminderEmail", expect_rows=main_rows), 1,
            )  # fmt: skip

        self.section("zip_reminder_email", zip_check)
        self.stop_worker()

        # 4. S3 (moto)
        if not args.skip_s3:
            self.section("worker_s3", lambda: self._s3_worker(small_ids, main_id, main_rows))
            self.stop_worker()
        return self.results

    def _filesystem_worker(self, datasets: dict, small_ids: list[int], main_id: int, main_rows: int) -> None:
        args = self.args
        self.start_worker(s3=False)
        log("worker (filesystem) up; warm-up export")
        self.export_once(small_ids[0], expect_rows=SMALL_ENTRIES, rss=False)

        log(f"latency of a {SMALL_ENTRIES}-row export, {args.latency_samples} samples")
        self.results["latency_1k"] = {
            "idle": self.latency(small_ids, samples=args.latency_samples, gap=1.5),
            "back_to_back": self.latency(small_ids, samples=args.latency_samples, gap=0),
        }
        log(f"{args.concurrent} concurrent {SMALL_ENTRIES}-row exports")
        self.results["concurrent"] = self.concurrent(small_ids[: args.concurrent])

        rss_sizes = []
        if main_rows != RSS_SMALL_ENTRIES:
            small_id = datasets["100k"]["campaign_ids"][0]
            self.measure(
                "export_fs_100k", "entries export → filesystem, 100k",
                lambda: self.export_once(small_id, expect_rows=RSS_SMALL_ENTRIES), args.repeat,
            )  # fmt: skip
            rss_sizes.append(("100k", "export_fs_100k"))
        self.measure(
            "export_fs", f"entries export → filesystem, {size_label(main_rows)}",
            lambda: self.export_once(main_id, expect_rows=main_rows), args.repeat,
        )  # fmt: skip
        rss_sizes.append((size_label(main_rows), "export_fs"))
        if args.with_5m and main_rows != BIG_ENTRIES:
            big_id = datasets["5M"]["campaign_ids"][0]
            self.measure(
                "export_fs_5m", "entries export → filesystem, 5M",
                lambda: self.export_once(big_id, expect_rows=BIG_ENTRIES), 1,
            )  # fmt: skip
            rss_sizes.append(("5M", "export_fs_5m"))
        self.results["rss_sizes"] = rss_sizes

    def _s3_worker(self, small_ids: list[int], main_id: int, main_rows: int) -> None:
        self.start_moto()
        self.start_worker(s3=True)
        log("worker (S3, moto) up; warm-up export")
        self.export_once(small_ids[0], expect_rows=SMALL_ENTRIES, rss=False)
        moto_rss = []

        def one_run() -> dict:
            run = self.export_once(main_id, expect_rows=main_rows)
            rss = _status_kb(self.moto.pid)
            run["moto_rss_mb"] = round(rss.get("VmRSS", 0) / 1024)
            moto_rss.append(run["moto_rss_mb"])
            if run["moto_rss_mb"] > MOTO_RESTART_MB:
                # moto's memory does not shrink after a delete; give the next run a fresh server.
                port = int(urlparse(self.moto_endpoint).port)
                self.moto.stop(timeout=10)
                self.start_moto(port)
            return run

        self.measure("export_s3", f"entries export → S3 (moto), {size_label(main_rows)}", one_run, self.args.repeat)
        self.results["moto_rss_mb_after_runs"] = moto_rss


# --- results ---------------------------------------------------------------------------------


def evaluate(results: dict) -> None:
    m = results["measurements"]

    def median_rate(name: str) -> float | None:
        item = m.get(name) or {}
        return (item.get("rows_per_s") or {}).get("median")

    def ratio(a: str, b: str) -> float | None:
        x, y = median_rate(a), median_rate(b)
        return x / y if x and y else None

    ratios = {
        "fs_vs_copy": ratio("export_fs", "copy_limit"),
        "s3_vs_copy": ratio("export_s3", "copy_limit"),
        "fs_vs_naive": ratio("export_fs", "naive_django"),
    }

    def worker_rate(name: str) -> float | None:
        item = m.get(name) or {}
        seconds = (item.get("worker_seconds") or {}).get("median")
        return item["rows"] / seconds if seconds and item.get("rows") else None

    copy_rate = median_rate("copy_limit")
    # For reading only: the same ratios on the job's own time (finished_at - triggered_at),
    # without the broker's pickup delay and the bench's polling.
    results["ratios_worker_time"] = {}
    for key, name in (("fs_vs_copy", "export_fs"), ("s3_vs_copy", "export_s3")):
        rate = worker_rate(name)
        results["ratios_worker_time"][key] = rate / copy_rate if rate and copy_rate else None
    rss = {}
    sizes = list(results.get("rss_sizes", []))
    if m.get("export_s3", {}).get("rows"):
        sizes.append((f"{size_label(m['export_s3']['rows'])} (S3)", "export_s3"))
    for label, name in sizes:
        item = m.get(name) or {}
        if item.get("worker_tree_peak_mb") is not None:
            rss[label] = {
                "tree_peak_mb": item["worker_tree_peak_mb"],
                "process_peak_mb": item["worker_process_peak_mb"],
                "rows": item["rows"],
                "storage": "s3" if name == "export_s3" else "filesystem",
            }
    results["rss"] = rss
    # The ceiling holds for every entries export measured; the growth compares filesystem runs.
    peak = max((v["tree_peak_mb"] for v in rss.values()), default=None)
    growth = None
    filesystem = [v for v in rss.values() if v["storage"] == "filesystem"]
    if "100k" in rss and len(filesystem) > 1:
        largest = max(filesystem, key=lambda v: v["rows"] or 0)
        growth = largest["tree_peak_mb"] / rss["100k"]["tree_peak_mb"]
    latency = ((results.get("latency_1k") or {}).get("idle") or {}).get("seconds", {}).get("median")
    measured = {**ratios, "worker_peak_rss_mb": peak, "rss_growth": growth, "latency_1k_median_s": latency}
    targets = {}
    for key, (label, goal, op) in TARGETS.items():
        value = measured.get(key)
        if value is None:
            verdict = "SKIP"
        elif op == "≥":
            verdict = "PASS" if value >= goal else "FAIL"
        else:
            verdict = "PASS" if value <= goal else "FAIL"
        targets[key] = {"label": label, "goal": f"{op} {goal:g}", "value": value, "result": verdict}
    results["ratios"] = {k: v for k, v in ratios.items()}
    results["targets"] = targets


def render_markdown(results: dict) -> str:
    env, params, m = results["environment"], results["parameters"], results["measurements"]
    lines = [
        "# exportsite benchmark results",
        "",
        f"`bench/run.py` ({'quick' if params['quick'] else 'full'} run), {env['date']}, commit `{env['git_commit']}`. "
        f"Main campaign: {params['entries']:,} entries; each measurement {params['repeat']}× "
        "(min / median / max). Worker: `manage.py rundramatiq --processes 1 --threads 1`, Redis broker.",
        "",
        f"Machine: {env['cpus']} CPUs ({env['cpu_model']}), {env['memory_gb']} GB RAM; Python {env['python']}; "
        f"{env['postgresql'].split(' on ')[0]} (shared_buffers {env['postgresql_settings']['shared_buffers']}). "
        f"Load average at start {', '.join(f'{x:.2f}' for x in env['load_average_start'])}, "
        f"at end {', '.join(f'{x:.2f}' for x in env.get('load_average_end', ()))}.",
        "",
        "| # | way | rows | runs | seconds | rows/s | MB/s (median) | peak RSS (MB) |",
        "|---|---|---:|---:|---|---|---:|---:|",
    ]
    order = [
        ("1", "copy_limit"),
        ("", "copy_limit_own_plan"),
        ("", "copy_limit_index_plan"),
        ("2", "naive_django"),
        ("3", "export_fs"),
        ("4", "export_s3"),
        ("5", "export_fs_100k"),
        ("5", "export_fs_5m"),
        ("", "zip_reminder_email"),
    ]
    for number, name in order:
        item = m.get(name)
        if not item:
            continue
        if "worker_tree_peak_mb" in item:
            rss = f"{fmt_num(item['worker_tree_peak_mb'])} (tree) / {fmt_num(item['worker_process_peak_mb'])} (process)"
        else:
            rss = fmt_num(item.get("peak_rss_mb"))
        lines.append(
            f"| {number} | {item['label']} | {fmt_num(item['rows'])} | {item['runs']} "
            f"| {fmt_spread(item['seconds'], 2)} | {fmt_spread(item['rows_per_s'])} "
            f"| {fmt_num(item['mb_per_s']['median'], 1)} | {rss} |"
        )
    lines += [
        "",
        "Seconds of the worker exports are POST-equivalent (`export_request`) → FINISHED seen by polling;"
        " the job's own `finished_at − triggered_at` is in results.json (`worker_seconds`). "
        "Worker RSS: peak of the summed VmRSS of the worker's process tree (dramatiq main process + worker "
        'process), sampled every 20 ms; "process" is the largest single-process VmHWM (reset before each run).',
        "",
        "## Targets",
        "",
        "| target | measured | goal | result |",
        "|---|---:|---:|---|",
    ]
    for target in results["targets"].values():
        value = target["value"]
        shown = "–" if value is None else f"{value:.2f}"
        lines.append(f"| {target['label']} | {shown} | {target['goal']} | **{target['result']}** |")
    worker_time = results.get("ratios_worker_time") or {}
    if any(value is not None for value in worker_time.values()):
        shown = ", ".join(
            f"{label} {worker_time[key]:.2f}"
            for key, label in (("fs_vs_copy", "filesystem/COPY"), ("s3_vs_copy", "S3/COPY"))
            if worker_time.get(key) is not None
        )
        lines += ["", f"On the job's own time (`finished_at − triggered_at`, no broker pickup): {shown}."]
    if results.get("rss"):
        lines += ["", "## Worker memory by size (entries export)", "",
                  "| rows | tree peak (MB) | export process peak (MB) |", "|---|---:|---:|"]  # fmt: skip
        for label, value in results["rss"].items():
            lines.append(f"| {label} | {fmt_num(value['tree_peak_mb'])} | {fmt_num(value['process_peak_mb'])} |")
    latency = results.get("latency_1k")
    if latency:
        rows = next((item["rows"] for item in latency.values() if item.get("rows")), SMALL_ENTRIES)
        lines += ["", f"## POST → FINISHED, {rows:,}-row export (Redis broker, worker running)", "",
                  "| spacing | samples | median (s) | min (s) | max (s) | queue wait median (s) | run median (s) |",
                  "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for name, item in latency.items():
            spacing = f"{item['gap_seconds']} s idle between requests" if item["gap_seconds"] else "back to back"
            lines.append(
                f"| {spacing} ({name}) | {item['samples']} | {fmt_num(item['seconds']['median'], 3)} | "
                f"{fmt_num(item['seconds']['min'], 3)} | {fmt_num(item['seconds']['max'], 3)} | "
                f"{fmt_num(item['queue_seconds']['median'], 3)} | {fmt_num(item['worker_seconds']['median'], 3)} |"
            )
        lines.append("")
        lines.append("The target is judged on the idle spacing (a request reaching an idle worker).")
    concurrent = results.get("concurrent")
    if concurrent:
        lines += [
            "",
            f"## {concurrent['exports']} concurrent small exports ({concurrent['rows'] // concurrent['exports']:,} "
            "rows each, one per campaign)",
            "",
            f"All requested at once ({concurrent['request_seconds']:.2f} s to request them); the last FINISHED "
            f"after **{concurrent['seconds']:.2f} s** ({concurrent['exports_per_s']:.1f} exports/s, "
            f"{concurrent['rows']:,} rows); each job's run median {concurrent['worker_seconds_each']['median']:.3f} s; "
            f"POST → FINISHED per job min / median / max {fmt_spread(concurrent['per_export_seconds'], 2)} s.",
        ]
    zip_item = m.get("zip_reminder_email")
    if zip_item and zip_item.get("runs"):
        lines += [
            "",
            "## ZIP memory (reminderEmail)",
            "",
            f"{zip_item['rows']:,} rows, {zip_item['bytes'] / 1e6:.1f} MB ZIP in {zip_item['seconds']['median']:.2f} s "
            f"({zip_item['rows_per_s']['median']:,.0f} rows/s); worker peak RSS "
            f"**{fmt_num(zip_item['worker_tree_peak_mb'])} MB** (tree), "
            f"{fmt_num(zip_item['worker_process_peak_mb'])} MB (export process), fresh worker.",
        ]
    if results.get("moto_rss_mb_after_runs"):
        lines += ["", f"moto server RSS after each S3 run (MB): {results['moto_rss_mb_after_runs']}."]
    if results.get("errors"):
        lines += ["", "## Errors", ""]
        for name, text in results["errors"].items():
            lines.append(f"- {name}: `{text.strip().splitlines()[-1][:300]}`")
    made = []
    for dataset in {d["name"]: d for d in results.get("datasets", {}).values()}.values():
        how = "reused" if dataset["reused"] else f"made in {dataset['made_seconds']:.0f} s"
        made.append(f"{dataset['name']} ({how})")
    lines += [
        "",
        f"Datasets (database `{params['database']}`): {', '.join(made)}.",
        "",
        f"Total runtime of the benchmark: {results['runtime_seconds']:.0f} s "
        f"(of which {results.get('dataset_seconds', 0):.0f} s making or checking datasets).",
        "",
    ]
    return "\n".join(lines)


def print_summary(results: dict) -> None:
    print()
    print("=" * 78)
    r = results["ratios"]

    def show(value) -> str:
        return "–" if value is None else f"{value:.2f}"

    print(f"ratio 3/1 (export → filesystem / COPY, rows/s):  {show(r['fs_vs_copy'])}")
    print(f"ratio 4/1 (export → S3 moto / COPY, rows/s):     {show(r['s3_vs_copy'])}")
    print(f"ratio 3/2 (export → filesystem / naive Django):  {show(r['fs_vs_naive'])}")
    for label, value in results.get("rss", {}).items():
        print(
            f"worker peak RSS at {label} rows: {value['tree_peak_mb']:.0f} MB (process tree), "
            f"{value['process_peak_mb']:.0f} MB (export process)"
        )
    zip_item = results["measurements"].get("zip_reminder_email")
    if zip_item and zip_item.get("runs"):
        print(f"reminderEmail ZIP: worker peak RSS {zip_item['worker_tree_peak_mb']:.0f} MB (tree)")
    print()
    for target in results["targets"].values():
        value = "–" if target["value"] is None else f"{target['value']:.2f}"
        print(f"{target['result']:4}  {target['label']}: {value} (goal {target['goal']})")
    if results.get("errors"):
        print(f"\nERRORS in: {', '.join(results['errors'])} (see results.json)")
    print(f"\nruntime {results['runtime_seconds']:.0f} s")


def runtime_python() -> str:
    """The Python of RUNTIME_VENV, made (or remade when requirements.txt changed) on first use.
    requirements.txt is the hashed runtime lock (`make lock`): exactly the versions deployed."""
    python = RUNTIME_VENV / "bin" / "python"
    requirements = (ROOT / "requirements.txt").read_bytes()
    stamp = RUNTIME_VENV / "requirements.txt"
    if not python.exists() or not stamp.exists() or stamp.read_bytes() != requirements:
        log(f"making {RUNTIME_VENV} (the runtime lock requirements.txt only: the worker as deployed)")
        shutil.rmtree(RUNTIME_VENV, ignore_errors=True)
        subprocess.run([PYTHON, "-m", "venv", str(RUNTIME_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        lock = ["--require-hashes", "--only-binary", ":all:", "-r", str(ROOT / "requirements.txt")]
        subprocess.run([*pip, *lock], check=True)
        stamp.write_bytes(requirements)
    return str(python)


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
    lock = _connect_maintenance(database_url)
    if not lock.execute("SELECT pg_try_advisory_lock(%s)", [BENCH_LOCK_ID]).fetchone()[0]:
        raise SystemExit("bench: another bench run is in progress on this PostgreSQL server; try again later")
    ensure_database(database_url, reset=args.reset_database)

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    work = DATA_DIR / "last-run"
    shutil.rmtree(work, ignore_errors=True)
    (work / "logs").mkdir(parents=True)
    broker_url = f"redis://127.0.0.1:{free_port()}/0"
    env = base_env(database_url=database_url, broker_url=broker_url, work=work)
    os.environ.update(env)
    import django

    django.setup()

    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    procs = Procs(work / "logs")
    bench = Bench(args, env=env, database_url=database_url, work=work, procs=procs)
    try:
        results = bench.run()
    finally:
        bench.stop_worker()
        procs.stop_all(timeout=5)
        lock.close()
    results["environment"]["load_average_end"] = os.getloadavg()
    results["runtime_seconds"] = time.monotonic() - started
    evaluate(results)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (args.output_dir / "results.md").write_text(render_markdown(results))
    print()
    print(render_markdown(results))
    print_summary(results)
    log(f"wrote {args.output_dir / 'results.json'} and {args.output_dir / 'results.md'}; logs in {work / 'logs'}")
    failed = any(t["result"] == "FAIL" for t in results["targets"].values())
    return 1 if results.get("errors") or (args.strict and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
