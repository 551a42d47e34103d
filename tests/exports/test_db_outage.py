"""Fault tests: the PostgreSQL server restarts under a running export and under API traffic
(PostgreSQL pass only).

The tests start their own PostgreSQL cluster (tests.processes.PostgresCluster: initdb in a
temporary folder, its own port) and restart it with `pg_ctl stop -m fast` then start on the
same port and data, as `pg_ctlcluster restart` does; the machine's shared server is never
touched. The worker, gunicorn and the setup run as subprocesses on that cluster, with a private
Redis. The retry settings are the shipped defaults (EXPORTS_DB_RETRY_SECONDS,
EXPORTS_RETRY_BACKOFF_SECONDS, EXPORTS_STALE_AFTER_SECONDS, EXPORTS_MAX_ATTEMPTS): only the
part size is small, so a file has many parts to resume from. Numbers are printed (`pytest -s`)
and appended to out/fault-results.jsonl.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests
from django.db import connection

from tests.exports.test_faults import record
from tests.processes import (
    PRODUCTION_REQUIRED,
    PYTHON,
    ROOT,
    PostgresCluster,
    Proc,
    Procs,
    RedisServer,
    free_port,
    gunicorn_argv,
    gunicorn_env,
    process_env,
    start_worker,
    wait_for,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL restart tests run in the PostgreSQL pass only"
    ),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary"),
    pytest.mark.skipif(shutil.which("pg_config") is None, reason="needs the PostgreSQL server binaries"),
]

ROWS = 120_000
TABLE = "exports_export"

# Run once in the cluster's database by a subprocess: migrate, a campaign of about ROWS entries
# (awkward values included), a superuser and an API token for it.
SETUP_SCRIPT = r"""
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from rest_framework_simplejwt.tokens import RefreshToken
from tests.exports.test_faults import campaign_with_entries
from tests.factories import UserFactory
campaign, rows = campaign_with_entries(int(sys.argv[1]))
user = UserFactory(is_superuser=True)
print(json.dumps({"campaign": campaign.pk, "rows": rows, "user": user.pk,
                  "token": str(RefreshToken.for_user(user).access_token)}))
"""

# Request an entries export of a campaign as a user, as the API does (enqueued on commit).
REQUEST_SCRIPT = r"""
import sys
import django
django.setup()
from django.contrib.auth import get_user_model
from exports.services import export_request
user = get_user_model().objects.get(pk=int(sys.argv[2]))
export, created = export_request(campaign_id=int(sys.argv[1]), body={"exportType": "entries"}, user=user)
assert created
print(export.pk)
"""


@dataclass
class Scene:
    procs: Procs
    cluster: PostgresCluster
    redis: RedisServer
    env: dict
    var_dir: Path
    campaign: int
    rows: int
    user: int
    token: str

    def query(self, sql: str, params: tuple = ()) -> tuple | None:
        """One row from the cluster; None while it is down."""
        try:
            with psycopg.connect(self.env["DATABASE_URL"], connect_timeout=2, autocommit=True) as db:
                return db.execute(sql, params).fetchone()
        except psycopg.OperationalError:
            return None

    def job(self, export_id: str) -> dict | None:
        row = self.query(
            f"SELECT status, attempts, rows_written, storage_key, sha256, row_count FROM {TABLE} WHERE id = %s",
            (export_id,),
        )
        keys = ("status", "attempts", "rows_written", "storage_key", "sha256", "row_count")
        return dict(zip(keys, row, strict=True)) if row else None

    def request_export(self) -> str:
        script = [PYTHON, "-c", REQUEST_SCRIPT, str(self.campaign), str(self.user)]
        done = subprocess.run(script, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout.strip().splitlines()[-1]

    def file_bytes(self, storage_key: str) -> bytes:
        return (self.var_dir / "files" / "exports" / storage_key).read_bytes()

    def restart_database(self, *, down_seconds: float) -> tuple[float, float]:
        """Fast shutdown, `down_seconds` without a server, start on the same port and data.
        Returns (monotonic time it went down, time it accepts connections again)."""
        self.cluster.stop()
        down_at = time.monotonic()
        time.sleep(down_seconds)
        self.cluster.start()  # returns once a connection succeeds
        return down_at, time.monotonic()


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """One private cluster and Redis for the module's tests (initdb, migrate and the data take
    most of the time); each test restarts the cluster and leaves it running."""
    log_dir = tmp_path_factory.mktemp("db-outage")
    procs = Procs(log_dir)
    try:
        cluster = PostgresCluster(procs).start()
        with psycopg.connect(cluster.url, autocommit=True) as db:
            db.execute("CREATE DATABASE exportsite")
        redis = RedisServer(procs).start()
        var_dir = log_dir / "var"
        settings = {
            **PRODUCTION_REQUIRED,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_CACHE_URL": redis.url.replace("/0", "/1"),
            "LOG_LEVEL": "INFO",
            # Unrelated to the retries: small parts, so the file has many to resume from; no
            # per-user request limit, so the API test's traffic is not throttled.
            "EXPORTS_PART_SIZE_KB": 64,
            "EXPORTS_API_RATE": "100000/min",
            "PYTHONFAULTHANDLER": "1",
        }
        database = cluster.url.rsplit("/", 1)[0] + "/exportsite"
        env = process_env(database_url=database, broker_url=redis.url, var_dir=var_dir, settings=settings)
        done = subprocess.run(
            [PYTHON, "-c", SETUP_SCRIPT, str(ROWS)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        made = json.loads(done.stdout.strip().splitlines()[-1])
        yield Scene(procs, cluster, redis, env, var_dir, made["campaign"], made["rows"], made["user"], made["token"])
    finally:
        procs.stop_all()


def wait_for_job(scene: Scene, export_id: str, predicate, *, timeout: float, what: str, procs: Procs) -> dict:
    return wait_for(
        lambda: (job := scene.job(export_id)) is not None and predicate(job) and job,
        timeout=timeout,
        what=what,
        procs=procs,
        interval=0.05,
    )


def test_postgres_restart_mid_export_resumes_within_seconds_and_the_file_is_byte_identical(scene, tmp_path):
    procs = Procs(tmp_path)
    try:
        worker = start_worker(procs, "worker", scene.env)
        # The reference: the same export, undisturbed, by the same worker.
        reference_id = scene.request_export()
        started = time.monotonic()
        reference = wait_for_job(
            scene, reference_id, lambda j: j["status"] == "FINISHED", timeout=120, what="the reference", procs=procs
        )
        reference_seconds = time.monotonic() - started
        expected = scene.file_bytes(reference["storage_key"])
        assert reference["row_count"] == scene.rows
        scene.query(f"UPDATE {TABLE} SET status = 'EXPIRED' WHERE id = %s RETURNING id", (reference_id,))

        export_id = scene.request_export()
        started = time.monotonic()
        running = wait_for_job(
            scene,
            export_id,
            lambda j: j["status"] != "TRIGGERED" or j["rows_written"] >= scene.rows // 4,
            timeout=60,
            what="a quarter of the rows written",
            procs=procs,
        )
        assert running["status"] == "TRIGGERED" and running["attempts"] == 1, running
        before = scene.job(export_id)
        assert before is not None
        down_at, back_at = scene.restart_database(down_seconds=3)

        def moving(job: dict) -> bool:
            return job["status"] != "TRIGGERED" or job["attempts"] != 1 or job["rows_written"] > before["rows_written"]

        moved = wait_for_job(scene, export_id, moving, timeout=60, what="the job to move again", procs=procs)
        back_to_moving = time.monotonic() - back_at
        done = wait_for_job(
            scene, export_id, lambda j: j["status"] in ("FINISHED", "FAILED", "EXPIRED", "CANCELLED"), timeout=120,
            what="the job to end", procs=procs,
        )  # fmt: skip
        total_seconds = time.monotonic() - started
        data = scene.file_bytes(done["storage_key"]) if done["status"] == "FINISHED" else b""
        retried = [e for e in worker.events("export will be retried") if e.get("export_id") == export_id]
        resumes = [e for e in worker.events("export resumes") if e.get("export_id") == export_id]
        record(
            "postgres_restart_mid_export",
            rows=scene.rows,
            bytes=len(expected),
            rows_written_at_restart=before["rows_written"],
            seconds_down=round(back_at - down_at, 2),
            seconds_back_to_moving=round(back_to_moving, 2),
            moved_as=f"{moved['status']} attempt {moved['attempts']} rows {moved['rows_written']}",
            retried_after_outage=[e.get("delay_seconds") for e in retried],
            resumed_at_part=resumes[0]["next_part"] if resumes else None,
            attempts=done["attempts"],
            status=done["status"],
            reference_run_seconds=round(reference_seconds, 2),
            run_with_restart_seconds=round(total_seconds, 2),
        )
        assert done["status"] == "FINISHED", procs.tails()
        assert data == expected, f"file differs: {len(data)} vs {len(expected)} bytes"
        assert done["sha256"] == reference["sha256"] == hashlib.sha256(expected).hexdigest()
        assert done["row_count"] == scene.rows
        assert back_to_moving <= 10, f"the job moved {back_to_moving:.1f}s after the database was back"
        assert done["attempts"] <= 2
        assert worker.alive() and "Failed to process message" not in worker.output(), worker.tail()
        if done["attempts"] == 2:  # cut off mid-read: retried at once, resumed after its checkpoint
            assert [e.get("delay_seconds") for e in retried] == [0], worker.tail()
            assert resumes and resumes[0]["next_part"] > 1, worker.tail()
    finally:
        procs.stop_all()


@dataclass
class Answer:
    at: float
    endpoint: str
    status: int
    retry_after: str | None
    body: object


UNAVAILABLE = {
    "error": {
        "status": 503,
        "message": "Service unavailable.",
        "payload": "The database is unavailable; try again in a few seconds.",
    }
}


def _first_ok_after(answers: list[Answer], endpoint: str, back_at: float) -> float | None:
    """Seconds from the database being back to the endpoint's first 2xx."""
    oks = [a.at - back_at for a in answers if a.endpoint == endpoint and a.at > back_at and a.status < 300]
    return round(min(oks), 2) if oks else None


def _answers(base: str, token: str) -> bool:
    try:
        return requests.get(base + "/export-types", headers={"Authorization": f"Bearer {token}"}, timeout=5).ok
    except requests.RequestException:
        return False  # not listening yet


def _traffic(base: str, token: str, endpoints: dict[str, tuple[str, str, dict | None]], stop: threading.Event, out):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    while not stop.is_set():
        for name, (method, path, body) in endpoints.items():
            try:
                response = session.request(method, base + path, json=body, timeout=10)
            except requests.RequestException as error:
                out.append(Answer(time.monotonic(), name, 0, None, repr(error)))
                continue
            try:
                parsed = response.json()
            except ValueError:
                parsed = response.text[:200]
            out.append(
                Answer(time.monotonic(), name, response.status_code, response.headers.get("Retry-After"), parsed)
            )


def test_api_during_a_postgres_restart_answers_503_with_retry_after_and_never_500(scene, tmp_path):
    procs = Procs(tmp_path)
    stop = threading.Event()
    answers: list[Answer] = []
    clients: list[threading.Thread] = []
    try:
        export_id = scene.request_export()  # stays PENDING (no worker): the POST deduplicates to it
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = gunicorn_env(
            scene.var_dir,
            port,
            **{name: value for name, value in scene.env.items() if name not in ("PATH", "HOME")},
            EXPORTSITE_WEB_WORKERS="2",
        )
        web: Proc = procs.start("gunicorn", gunicorn_argv(), env=env)
        campaign = scene.campaign
        endpoints = {
            "list": ("GET", f"/campaigns/{campaign}/exports", None),
            "detail": ("GET", f"/campaigns/{campaign}/exports/{export_id}", None),
            "create (dedupe)": ("POST", f"/campaigns/{campaign}/exports", {"exportType": "entries"}),
            "export-types": ("GET", "/export-types", None),
        }
        wait_for(lambda: _answers(base, scene.token), timeout=30, what="gunicorn to answer", proc=web, interval=0.2)
        clients = [
            threading.Thread(target=_traffic, args=(base, scene.token, endpoints, stop, answers)) for _ in range(4)
        ]
        for client in clients:
            client.start()
        time.sleep(2)
        down_at, back_at = scene.restart_database(down_seconds=3)
        time.sleep(4)
        stop.set()
        for client in clients:
            client.join(timeout=15)
        during = [a for a in answers if down_at <= a.at <= back_at]
        after = [a for a in answers if a.at > back_at + 1]
        first_ok_after = {name: _first_ok_after(answers, name, back_at) for name in endpoints}
        statuses = Counter((a.endpoint, a.status) for a in answers)
        record(
            "postgres_restart_under_api_traffic",
            requests=len(answers),
            statuses={f"{name} {status}": count for (name, status), count in sorted(statuses.items())},
            seconds_down=round(back_at - down_at, 2),
            answers_while_down=len(during),
            seconds_back_to_first_2xx=first_ok_after,
        )
        assert not [a for a in answers if a.status >= 500 and a.status != 503], web.tail()
        assert not [a for a in answers if a.status == 0], "connection errors: " + web.tail()
        unavailable = [a for a in answers if a.status == 503]
        assert unavailable, "no request saw the outage"
        assert {a.retry_after for a in unavailable} == {"5"}
        assert all(a.body == UNAVAILABLE for a in unavailable), {json.dumps(a.body) for a in unavailable}
        assert {a.endpoint for a in during if a.status == 503} == set(endpoints)
        assert after and all(a.status in (200, 201) for a in after), Counter(a.status for a in after)
        assert {a.endpoint for a in after} == set(endpoints)
        assert all(a.status == 200 for a in after if a.endpoint == "create (dedupe)")  # the same job, never a new one
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=15)
        procs.stop_all()
