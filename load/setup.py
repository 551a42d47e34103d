"""Before the load: the load test's own database on DATABASE_URL's server, the production-mode
environment of gunicorn and of the manage.py commands, and the jobs the traffic reads."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import requests

from tests.processes import PRODUCTION_REQUIRED, PYTHON, ROOT, Proc, process_env

ACCESS_GROUP = "Load Campaign Staff"
HOST = "127.0.0.1"
# Held for the whole run on the server: two load runs would drop each other's database.
LOCK_ID = 0x10AD7E57


def log(message: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_database_url(url: str, name: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql", "pgsql"):
        raise SystemExit("load: DATABASE_URL must be a postgres:// URL (run it with `make load`)")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
        raise SystemExit(f"load: invalid database name {name!r}")
    return urlunparse(parsed._replace(path="/" + name))


def lock_and_reset_database(url: str) -> psycopg.Connection:
    """Take the run's lock, then drop and create the load database (every run starts empty, so
    every POST of the run is a duplicate of a job made here). Keep the connection: it holds the lock."""
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    conn = psycopg.connect(urlunparse(parsed._replace(path="/postgres")), autocommit=True)
    locked = conn.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_ID]).fetchone()
    if not locked or not locked[0]:
        conn.close()
        raise SystemExit("load: another load run holds the lock on this PostgreSQL server")
    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.execute(f'CREATE DATABASE "{name}"')
    return conn


def server_env(*, database_url: str, redis_url: str, var_dir: Path, port: int, workers: int | None) -> dict[str, str]:
    """Production mode (DJANGO_DEBUG=0, the test secrets), the Redis cache and broker, and
    gunicorn's shipped defaults for workers and threads unless `workers` is given."""
    settings: dict[str, object] = {
        **PRODUCTION_REQUIRED,
        "DJANGO_ALLOWED_HOSTS": HOST,
        "DJANGO_CACHE_URL": redis_url.rsplit("/", 1)[0] + "/1",
        "EXPORTSITE_BIND": f"{HOST}:{port}",
        "LOG_LEVEL": "WARNING",
    }
    if workers is not None:
        settings["EXPORTSITE_WEB_WORKERS"] = workers
    return process_env(database_url=database_url, broker_url=redis_url, var_dir=var_dir, settings=settings)


def manage(env: dict[str, str], *args: str) -> str:
    """Run one manage.py command in the server's environment; its output, or exit on failure."""
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"load: manage.py {args[0]} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return done.stdout.strip()


def prepare_data(env: dict[str, str], *, campaigns: int, accounts: int, tokens_path: Path) -> None:
    log("migrating the load database")
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    log(f"{campaigns} campaigns (demo_data), {accounts} accounts with tokens (mint_tokens)")
    entries = str(campaigns * 100)
    manage(env, "demo_data", "--campaigns", str(campaigns), "--entries", entries, "--access-group", ACCESS_GROUP)
    mint = ["--users", str(accounts), "--access-group", ACCESS_GROUP, "--output", str(tokens_path)]
    log(manage(env, "mint_tokens", *mint, "--allow-production"))


def wait_until_serving(base: str, gunicorn: Proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{base}/heartbeat", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if not gunicorn.alive() or time.monotonic() > deadline:
            raise SystemExit("load: gunicorn did not start serving" + gunicorn.tail())
        time.sleep(0.2)


def request_one_job_per_campaign(base: str, tokens_path: Path, body: dict) -> dict[str, str]:
    """The job each campaign's POSTs will duplicate: one POST per campaign (201), each by the
    first account working on it (the per-user cap on active jobs is never approached)."""
    accounts = json.loads(tokens_path.read_text())["tokens"]
    by_campaign: dict[str, str] = {}
    for number, account in enumerate(accounts):
        campaign = account["campaigns"][number % len(account["campaigns"])]
        if campaign in by_campaign:
            continue
        answer = requests.post(
            f"{base}/campaigns/{campaign}/exports",
            json=body,
            headers={"Authorization": f"Bearer {account['access']}"},
            timeout=30,
        )
        if answer.status_code != 201:
            raise SystemExit(f"load: creating the job of campaign {campaign}: HTTP {answer.status_code} {answer.text}")
        by_campaign[campaign] = answer.json()["id"]
    return by_campaign
