"""Before measuring: the bench database and its datasets, the workers' environment and runtime
venv, and a description of the machine. Django-dependent parts import the apps inside the
functions: bench/run.py sets Django up only after it has chosen the database."""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from bench.config import (
    BIG_ENTRIES,
    NOT_PASSED,
    PASSTHROUGH_PREFIX,
    PYTHON,
    ROOT,
    RSS_SMALL_ENTRIES,
    RUNTIME_VENV,
    SMALL_CAMPAIGNS,
    SMALL_DATASET_TOTAL,
    SMALL_ENTRIES,
    log,
)
from tests.processes import process_env

# --- the database ------------------------------------------------------------------------------


def bench_database_url(url: str, name: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql", "pgsql"):
        raise SystemExit("bench: DATABASE_URL must be a postgres:// URL (run it with `make bench`)")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
        raise SystemExit(f"bench: invalid database name {name!r}")
    return urlunparse(parsed._replace(path="/" + name))


def connect_maintenance(url: str):
    import psycopg

    parsed = urlparse(url)
    return psycopg.connect(urlunparse(parsed._replace(path="/postgres")), autocommit=True)


def ensure_database(url: str, *, reset: bool) -> bool:
    """Create the bench database if missing (drop it first with reset); True if created."""
    name = urlparse(url).path.lstrip("/")
    with connect_maintenance(url) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None
        if exists and reset:
            log(f"dropping database {name}")
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = False
        if not exists:
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')
    return not exists


def prepare_database():
    """Migrate, delete the jobs of earlier runs, and return the bench's superuser."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from exports.models import Export

    log("migrating the bench database")
    call_command("migrate", verbosity=0, interactive=False)
    # Jobs of earlier runs (a killed run may leave PENDING ones a worker would pick up at boot).
    Export.objects.all().delete()
    user_model = get_user_model()
    user = user_model.objects.filter(username="bench").first()
    if user is None:
        user = user_model.objects.create_superuser(username="bench", email="", password=None)
    return user


# --- datasets ----------------------------------------------------------------------------------


def ensure_datasets(args: argparse.Namespace) -> dict:
    entries = args.entries
    datasets = {"main": _dataset(f"entries-{entries}", campaigns=1, total=entries, seed=1)}
    if entries != RSS_SMALL_ENTRIES:
        datasets["100k"] = _dataset(f"entries-{RSS_SMALL_ENTRIES}", campaigns=1, total=RSS_SMALL_ENTRIES, seed=3)
    else:
        datasets["100k"] = datasets["main"]
    if args.with_5m:
        if entries == BIG_ENTRIES:
            datasets["5M"] = datasets["main"]
        else:
            datasets["5M"] = _dataset(f"entries-{BIG_ENTRIES}", campaigns=1, total=BIG_ENTRIES, seed=5)
    datasets["small"] = _dataset(
        f"small-{SMALL_CAMPAIGNS}x{SMALL_ENTRIES}", campaigns=SMALL_CAMPAIGNS + 1, total=SMALL_DATASET_TOTAL, seed=2
    )
    return datasets


def _dataset(name: str, *, campaigns: int, total: int, seed: int) -> dict:
    """A dataset made by demo_dataset_create, reused when the bench database already has it
    with the entry counts recorded when it was made (table bench_dataset)."""
    from django.db import connection

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
        counts = _entry_counts(ids)
        if sum(counts) == total and (recorded is None or list(recorded) == counts):
            log(f"dataset {name}: reused (campaigns {ids[0]}…{ids[-1]})")
            if recorded is None:
                _record_dataset(name, ids, total, counts, made_seconds)
            return {"name": name, "campaign_ids": ids, "sizes": counts, "reused": True, "made_seconds": made_seconds}
        log(f"dataset {name}: its entry counts changed; making it again")
    return _make_dataset(name, campaigns=campaigns, total=total, seed=seed)


def _make_dataset(name: str, *, campaigns: int, total: int, seed: int) -> dict:
    from django.db import connection

    from campaigns.models import Campaign
    from campaigns.services import demo_dataset_create

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
    counts = _entry_counts(ids)
    _record_dataset(name, ids, total, counts, made_seconds)
    return {"name": name, "campaign_ids": ids, "sizes": counts, "reused": False, "made_seconds": made_seconds}


def _entry_counts(campaign_ids: list[int]) -> list[int]:
    from django.db.models import Count

    from campaigns.models import Entry

    rows = Entry.objects.filter(campaign_id__in=campaign_ids).values("campaign_id").annotate(n=Count("id"))
    counts = {row["campaign_id"]: row["n"] for row in rows}
    return [counts.get(pk, 0) for pk in campaign_ids]


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


# --- the workers' environment and Python ---------------------------------------------------------


def base_env(*, database_url: str, broker_url: str, work: Path) -> dict:
    """Of every process the bench starts: production settings (DJANGO_DEBUG=0), the caller's
    EXPORTS_* variables (PASSTHROUGH_PREFIX) under the bench's own storage and limits."""
    passed = {
        name: value
        for name, value in os.environ.items()
        if name.startswith(PASSTHROUGH_PREFIX) and name not in NOT_PASSED and "_STORAGE_" not in name
    }
    production = {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
        "JWT_SIGNING_KEY": "bench-jwt-signing-key-not-for-production-0123456789",
        "EXPORTS_WEBHOOK_SECRET": "bench-webhook-secret-not-for-production-0123456789",
        "EXPORTS_DOWNLOAD_SIGNING_KEY": "bench-download-key-not-for-production-0123456789",
        # The bench's own Redis also holds the shared cache (throttle counts).
        "DJANGO_CACHE_URL": broker_url,
        "DJANGO_ALLOWED_HOSTS": "localhost",
        "EXPORTS_LOCAL_DIR": str(work / "files"),
        "EXPORTS_MAX_ACTIVE_PER_USER": "0",  # 20 concurrent jobs of one user
        "LOG_LEVEL": os.environ.get("BENCH_WORKER_LOG_LEVEL", "WARNING"),
    }
    return process_env(
        database_url=database_url,
        broker_url=broker_url,
        var_dir=work / "var",
        settings={**passed, **production},
        inherit=("PGOPTIONS",),  # libpq reads it in every client: the workers, the naive baseline and psql
    )


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


# --- the machine -------------------------------------------------------------------------------


# The names base_env() found already set by the caller (kept in the env dict, comma-separated).
CALLER_SET = "BENCH_CALLER_SET"
_SECRET_NAME = re.compile(r"SECRET|KEY|TOKEN|PASSWORD", re.IGNORECASE)


def environment(env: dict) -> dict:
    """The machine, PostgreSQL and commit the numbers were measured on (results.json)."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        **_postgresql(),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": _memory_gb(),
        "load_average_start": os.getloadavg(),
        # Only what the caller set, and never a secret's value.
        "worker_env_overrides": {
            k: ("<set>" if _SECRET_NAME.search(k) else v)
            for k, v in env.items()
            if (k.startswith(PASSTHROUGH_PREFIX) or k == "PGOPTIONS") and k in env.get(CALLER_SET, "").split(",")
        },
    }


def _postgresql() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        pg_version = cursor.fetchone()[0]
        settings = {}
        for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "jit", "jit_above_cost",
                     "jit_optimize_above_cost", "jit_inline_above_cost"):  # fmt: skip
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    return {"postgresql": pg_version, "postgresql_settings": settings}


def _git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        # The bench's own outputs do not make the tree dirty.
        status = ["git", "status", "--porcelain", "--", ".", ":!bench/results.json", ":!bench/results.md"]
        dirty = bool(subprocess.run(status, cwd=ROOT, capture_output=True, text=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", False
    return commit + ("+dirty" if dirty else "")


def _cpu_model() -> str:
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def _memory_gb() -> float | None:
    with suppress(OSError, ValueError, IndexError):
        return round(int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024, 1)
    return None
