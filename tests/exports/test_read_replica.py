"""Export reads from a streaming replica (DATABASE_REPLICA_URL), against a real hot standby.

The test makes its own primary (initdb on a free port in a temporary folder, never the shared
server) and a standby of it (`pg_basebackup -R`, another port and folder), both logging every
statement. Worker processes run exports with the primary as DATABASE_URL and the standby as
DATABASE_REPLICA_URL: the fast path's COPY runs on the standby and nothing the export reads runs
on the primary; a paused replay is waited for; a replica that stays behind gives way to the
primary, with a log line saying why. PostgreSQL pass only (it starts servers); its numbers go to
out/fault-results.jsonl.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.conftest import is_postgres
from tests.processes import INHERITED, PostgresCluster, Procs

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(not is_postgres(), reason="starts a private PostgreSQL primary and standby (PostgreSQL pass)"),
]

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "out" / "fault-results.jsonl"
DATABASE = "exportsite"
LOGGED = {"log_statement": "all", "log_line_prefix": "%m [%p] "}
# The first entry's fan gets a new first name (the entries file shows the fan's name first).
RENAME_A_FAN = (
    "UPDATE campaigns_fan SET first_name = '{name}' WHERE id = (SELECT fan_id FROM campaigns_entry ORDER BY id LIMIT 1)"
)

# One export requested and run in this process (a worker's engine, no broker), then what it wrote.
RUN_ONE = """
import json, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from campaigns.models import Campaign
from exports import storage
from exports.engine import export_run
from exports.services import export_request
user, _ = get_user_model().objects.get_or_create(username="replica-test", defaults={"is_superuser": True})
campaign = Campaign.objects.order_by("pk").first()
export, _ = export_request(campaign_id=campaign.pk, body=json.loads(sys.argv[1]), user=user)
outcome = export_run(export_id=str(export.pk))
export.refresh_from_db()
with storage.object_open(export.storage_alias, export.storage_key) as handle:
    data = handle.read()
print(json.dumps({"outcome": outcome, "rows": export.row_count, "sha256": export.sha256,
                  "marker": sys.argv[2] in data.decode()}))
"""


@pytest.fixture(scope="module")
def replicated(tmp_path_factory):
    """(primary, standby, var folder): the schema migrated and a demo campaign of 20,000 entries."""
    folder = tmp_path_factory.mktemp("replica")
    (folder / "logs").mkdir()
    procs = Procs(folder / "logs")
    try:
        primary = PostgresCluster(procs, name="primary", settings={"wal_level": "replica", "max_wal_senders": "4"})
        primary.start()
        with psycopg.connect(primary.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        env = _env(primary, None, folder)
        for command in (["migrate", "--noinput"], ["demo_data", "--entries", "20000", "--campaigns", "1"]):
            subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True)
        with psycopg.connect(primary.url, autocommit=True) as conn:  # every statement from now on, here and there
            for name, value in LOGGED.items():
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            conn.execute("SELECT pg_reload_conf()")
        standby = primary.standby()  # the base backup takes postgresql.auto.conf along
        yield primary, standby, folder
    finally:
        procs.stop_all()


def _env(primary: PostgresCluster, standby: PostgresCluster | None, folder: Path, **settings: str) -> dict:
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "exportsite.settings",
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": primary.url_of(DATABASE),
            "EXPORTSITE_VAR_DIR": str(folder / "var"),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            **settings,
        }
    )
    if standby is not None:
        env["DATABASE_REPLICA_URL"] = standby.url_of(DATABASE)
    return env


def _export(env: dict, *, marker: str = "", body: dict | None = None) -> subprocess.Popen:
    argv = [sys.executable, "-c", RUN_ONE, json.dumps(body or {"exportType": "entries"}), marker or "<no marker>"]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finished(run: subprocess.Popen) -> tuple[dict, list[dict]]:
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err[-3000:]
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["outcome"] == "finished", (result, err[-3000:])
    return result, events


def _event(events: list[dict], message: str) -> dict:
    found = [event for event in events if event.get("event") == message]
    assert found, [event.get("event") for event in events]
    return found[-1]


def _log_from(server: PostgresCluster, start: int) -> str:
    assert server.proc is not None
    return server.proc.output()[start:]


def _log_length(server: PostgresCluster) -> int:
    assert server.proc is not None
    return len(server.proc.output())


def _primary_sql(primary: PostgresCluster, sql: str) -> None:
    with psycopg.connect(primary.url_of(DATABASE), autocommit=True) as conn:
        conn.execute(sql)


def _standby_sql(standby: PostgresCluster, sql: str) -> None:
    with psycopg.connect(standby.url_of(DATABASE), autocommit=True) as conn:
        conn.execute(sql)


def _record(**numbers) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"test": "read_replica", **numbers}) + "\n")


def test_the_fast_path_reads_from_the_standby_with_the_shipped_wait(replicated):
    primary, standby, folder = replicated
    primary_start, standby_start = _log_length(primary), _log_length(standby)
    result, events = _finished(_export(_env(primary, standby, folder)))  # no EXPORTS_REPLICA_WAIT_SECONDS: 5 s
    chose = _event(events, "export reads from the replica")
    assert result["rows"] == 20_000 and chose["waited_seconds"] < 5
    time.sleep(0.5)  # the servers' log lines are flushed
    on_standby, on_primary = _log_from(standby, standby_start), _log_from(primary, primary_start)
    assert "COPY (SELECT" in on_standby and "campaigns_entry" in on_standby
    # On the primary: no COPY, and of the entries only the snapshot's bounds (their highest id).
    assert "COPY (" not in on_primary
    entry_reads = [line for line in on_primary.splitlines() if "campaigns_entry" in line]
    assert entry_reads and all("MAX(" in line for line in entry_reads), entry_reads
    assert 'UPDATE "exports_export"' in on_primary  # every state write went to the primary
    # The same file as without a replica.
    alone, _ = _finished(_export(_env(primary, None, folder)))
    assert alone["sha256"] == result["sha256"]
    _record(case="caught_up", waited_seconds=chose["waited_seconds"])


@contextmanager
def _replay_paused(primary: PostgresCluster, standby: PostgresCluster, *, rename_to: str) -> Iterator[None]:
    """The standby stops replaying; then a fan is renamed on the primary (after the pause, before
    any job's snapshot: an export must show the new name). Replay resumes at the end."""
    _standby_sql(standby, "SELECT pg_wal_replay_pause()")
    try:
        _primary_sql(primary, RENAME_A_FAN.format(name=rename_to))
        yield
    finally:
        _standby_sql(standby, "SELECT pg_wal_replay_resume()")


def test_a_standby_that_has_not_replayed_the_snapshot_yet_is_waited_for(replicated):
    primary, standby, folder = replicated
    with _replay_paused(primary, standby, rename_to="Replayed"):
        run = _export(_env(primary, standby, folder, EXPORTS_REPLICA_WAIT_SECONDS="60"), marker="Replayed")
        time.sleep(3.0)
        assert run.poll() is None, "the export did not wait for the replay"
    result, events = _finished(run)
    chose = _event(events, "export reads from the replica")
    assert result["marker"] and chose["waited_seconds"] >= 1.0
    _record(case="replay_paused_3s_after_start", waited_seconds=chose["waited_seconds"])


def test_a_standby_that_stays_behind_gives_way_to_the_primary_and_says_why(replicated):
    primary, standby, folder = replicated
    with _replay_paused(primary, standby, rename_to="Primary"):
        primary_start = _log_length(primary)
        env = _env(primary, standby, folder, EXPORTS_REPLICA_WAIT_SECONDS="1")
        result, events = _finished(_export(env, marker="Primary"))
    behind = _event(events, "export reads from the primary: the replica is behind")
    assert result["marker"] and behind["behind_bytes"] > 0 and 1 <= behind["waited_seconds"] < 3
    time.sleep(0.5)
    assert "COPY (SELECT" in _log_from(primary, primary_start)
    _record(case="stays_behind", waited_seconds=behind["waited_seconds"], behind_bytes=behind["behind_bytes"])
