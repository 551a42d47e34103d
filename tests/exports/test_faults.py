"""Fault tests with real processes and real services (PostgreSQL mode only: `make test-postgres`).

Workers are `manage.py rundramatiq` subprocesses on the test database; each test brings its own
redis-server and (where storage matters) its own moto S3 server, so stopping them never touches
the machine's shared services. Every test prints its numbers (see them with `pytest -s`) and
appends one JSON line to out/fault-results.jsonl.

1. kill -9 of a worker mid-upload: another worker's reconciler requeues, the job resumes from
   its checkpoint, redoes at most one part, and the file is byte-identical to an uninterrupted run.
2. Redis stopped and restarted with PENDING jobs queued (messages lost): every job still finishes.
3. The S3 server stopped mid-upload and restarted empty: the job finishes from scratch or fails
   as transient, and no multipart upload is left open.
4. 200 concurrent identical POSTs from 8 processes against gunicorn: one job, one 201.
5. Two workers and duplicate messages for one job: exactly one run.

Tests 1, 3 and 5 run once per row path: "copy" (PostgreSQL's default, EXPORTS_COPY_FAST_PATH)
and "portable" (ORM + csv.writer); the reference files always come from the portable path
in-process, so the copy variants also prove both paths write the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import statistics
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import dramatiq
import dramatiq.broker
import pytest
import requests
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.test import override_settings

from campaigns.models import Campaign, Entry, Fan
from campaigns.services import demo_dataset_create
from exports.engine import export_run
from exports.models import Export
from exports.services import export_request
from exportsite.broker import WakeupRedisBroker
from tests.conftest import TERMINAL, read_export_bytes
from tests.factories import UserFactory
from tests.processes import (
    PYTHON,
    REDIS_NAMESPACE,
    S3_CREDENTIALS,
    MotoServer,
    Proc,
    Procs,
    RedisServer,
    database_url,
    free_port,
    process_env,
    start_worker,
    thread_dumps,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "out" / "fault-results.jsonl"
PART_SIZE_KB = 64
PART_SIZE = PART_SIZE_KB * 1024
BUCKETS = {alias: f"faults-{alias.replace('_', '-')}" for alias in settings.EXPORT_STORAGE_ALIASES}

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="fault tests run worker and server subprocesses against the test database, which must be "
        "PostgreSQL (run with DATABASE_URL=postgres://…, e.g. `make test-postgres`)",
    ),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="fault tests need the redis-server binary"),
]


# --- processes (tests/processes.py starts them) ----------------------------------------------


@pytest.fixture
def procs(transactional_db, tmp_path):
    """Depends on the database fixture so every subprocess is gone before the test database is
    flushed (a live worker would hold locks the flush waits for)."""
    registry = Procs(tmp_path)
    yield registry
    registry.stop_all()


def not_stuck(export_id, workers: list[Proc], *, attempt: int | None = None, seconds: float = 8.0):
    """A `watch` for wait_for: fail fast, with thread stacks, when the job is TRIGGERED (by
    `attempt`, if given) but its rows and checkpointed parts have not moved for `seconds` while
    its workers are all alive, i.e. the run is stuck rather than slow. (Not the heartbeat: the
    worker process's liveness thread beats for a run whatever its thread does.)"""
    last: dict[str, object] = {}

    def watch() -> None:
        row = Export.objects.filter(pk=export_id).values("status", "attempts", "rows_written", "checkpoint").first()
        if not row or row["status"] != "TRIGGERED":
            return
        if attempt is not None and row["attempts"] != attempt:
            return
        progress = (row["attempts"], row["rows_written"], len((row["checkpoint"] or {}).get("parts", [])))
        now = time.monotonic()
        if last.get("progress") != progress:
            last.update(progress=progress, since=now)
            return
        still = now - float(last["since"])  # type: ignore[arg-type]
        if still > seconds and all(worker.alive() for worker in workers):
            raise AssertionError(
                f"export {export_id} attempt {row['attempts']} has not moved for {still:.1f}s while its "
                "worker is alive: the run is stuck" + thread_dumps(workers)
            )

    return watch


def single_attempt(export_id, workers: list[Proc], procs: Procs, *, result: dict):
    """A `watch` for wait_for when nothing fails on purpose: a second attempt means the first
    run was given up for dead (no heartbeat for EXPORTS_STALE_AFTER_SECONDS) although it was not.
    Records `result` with outcome "stuck" before failing."""

    def watch() -> None:
        attempts = Export.objects.filter(pk=export_id).values_list("attempts", flat=True).first()
        if attempts and attempts > 1:
            record(**result, outcome="stuck", attempts=attempts, checkpointed=checkpointed_parts(export_id))
            message = f"export {export_id} was attempted {attempts} times with no fault"
            raise AssertionError(message + procs.tails() + thread_dumps(workers))

    return watch


def start_moto(procs: Procs) -> MotoServer:
    """A private moto S3 with one bucket per export storage alias, taking parts as small as the
    workers' PART_SIZE_KB (S3's 5 MB minimum part would refuse them)."""
    return MotoServer(procs, buckets=BUCKETS, server_env={"S3_UPLOAD_PART_MIN_SIZE": "256"}).start()


# The workers' settings: small parts (a file has many) and every timer short.
FAULT_SETTINGS = {
    "DJANGO_DEBUG": "1",
    "DJANGO_SECRET_KEY": "fault-tests-secret-key-long-enough-for-hs256-signing",
    "LOG_LEVEL": "INFO",
    "EXPORTS_PART_SIZE_KB": PART_SIZE_KB,
    "EXPORTS_RETRY_BACKOFF_SECONDS": 0,
    "EXPORTS_MAINTENANCE_INTERVAL_SECONDS": 1,
    "EXPORTS_PROGRESS_INTERVAL_SECONDS": 1,
    "PYTHONFAULTHANDLER": "1",  # SIGABRT prints every thread's stack (see thread_dumps)
}


def service_env(tmp_path: Path, *, broker_url: str, moto: MotoServer | None = None, **overrides: object) -> dict:
    """Environment of a worker or web subprocess on the test database (not the configured one)."""
    return process_env(
        database_url=database_url(connection.settings_dict),
        broker_url=broker_url,
        var_dir=tmp_path / "var",
        settings={**FAULT_SETTINGS, **(moto.worker_env() if moto else {}), **overrides},
    )


# How the workers produce rows. "copy" is the default on PostgreSQL (EXPORTS_COPY_FAST_PATH,
# exports/engine/copy/); "portable" is the ORM + csv.writer path every database uses.
ROW_PATHS = [
    pytest.param("copy", id="copy-path"),
    pytest.param("portable", id="portable-path"),
]


def row_path_env(row_path: str) -> dict:
    return {"EXPORTS_COPY_FAST_PATH": "1" if row_path == "copy" else "0"}


@pytest.fixture
def send_to(monkeypatch):
    """Point this process's Dramatiq actors at another Redis (a private one the test's workers
    consume), so `export_request` enqueues there exactly as the web process would."""
    made: list[WakeupRedisBroker] = []

    def redirect(url: str) -> WakeupRedisBroker:
        current = dramatiq.get_broker()
        broker = WakeupRedisBroker(url=url, namespace=REDIS_NAMESPACE)
        for actor in list(current.actors.values()):
            broker.declare_actor(actor)
            monkeypatch.setattr(actor, "broker", broker)
        monkeypatch.setattr(dramatiq.broker, "global_broker", broker)
        made.append(broker)
        return broker

    yield redirect
    for broker in made:
        broker.close()


@pytest.fixture
def moto_storages(settings):
    """Point this process's export storages at a moto server, as the workers' env does."""

    def use(moto: MotoServer) -> None:
        options = {
            "region_name": S3_CREDENTIALS["region_name"],
            "default_acl": "private",
            "file_overwrite": False,
            "querystring_auth": True,
            "signature_version": "s3v4",
            "addressing_style": "path",
            "endpoint_url": moto.endpoint,
            "access_key": S3_CREDENTIALS["aws_access_key_id"],
            "secret_key": S3_CREDENTIALS["aws_secret_access_key"],
        }
        storages = dict(settings.STORAGES)
        for alias, bucket in BUCKETS.items():
            storages[alias] = {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {**options, "bucket_name": bucket},
            }
        settings.STORAGES = storages  # the setting_changed signal resets the cached backends

    return use


# --- data and jobs ---------------------------------------------------------------------------


def campaign_with_entries(total: int, *, seed_entries: int = 2000) -> tuple[Campaign, int]:
    """One campaign with about `total` entries, fast: a demo dataset of `seed_entries` (awkward
    values included), then copied server-side with new fan and entry ids. Returns (campaign, count)."""
    seed_entries = min(seed_entries, total)
    demo_dataset_create(campaigns=1, entries=seed_entries, seed=7)
    campaign = Campaign.objects.get()
    copies = max(0, -(-total // seed_entries) - 1)
    if copies:
        # Concrete fields always have a column (the stubs type Field.column as optional).
        fan_columns = [cast(str, f.column) for f in Fan._meta.concrete_fields if f.column != "id"]
        entry_columns = [cast(str, f.column) for f in Entry._meta.concrete_fields if f.column not in ("id", "fan_id")]
        fan_table, entry_table = Fan._meta.db_table, Entry._meta.db_table
        quote_name = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT max(id) FROM {fan_table}")
            fan_span = cursor.fetchone()[0]
            cursor.execute(f"SELECT max(id) FROM {entry_table}")
            entry_span = cursor.fetchone()[0]
            fans = ", ".join(quote_name(c) for c in fan_columns)
            cursor.execute(
                f"INSERT INTO {fan_table} (id, {fans}) SELECT f.id + k * %s, "
                + ", ".join(f"f.{quote_name(c)}" for c in fan_columns)
                + f" FROM {fan_table} f CROSS JOIN generate_series(1, %s) AS k",
                [fan_span, copies],
            )
            entries = ", ".join(quote_name(c) for c in entry_columns)
            cursor.execute(
                f"INSERT INTO {entry_table} (id, fan_id, {entries}) SELECT e.id + k * %s, e.fan_id + k * %s, "
                + ", ".join(f"e.{quote_name(c)}" for c in entry_columns)
                + f" FROM {entry_table} e CROSS JOIN generate_series(1, %s) AS k WHERE e.campaign_id = %s",
                [entry_span, fan_span, copies, campaign.pk],
            )
            for table in (fan_table, entry_table):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            cursor.execute(f"ANALYZE {fan_table}, {entry_table}")
    return campaign, Entry.objects.filter(campaign=campaign).count()


def request_entries(campaign: Campaign, user) -> Export:
    export, created = export_request(campaign_id=campaign.pk, body={"exportType": "entries"}, user=user)
    assert created
    return export


def reference_bytes(campaign: Campaign, user) -> tuple[bytes, float]:
    """An uninterrupted in-process run of the same export; the job is then expired so the
    dedupe index lets the identical request through again. Returns (bytes, seconds)."""
    export = request_entries(campaign, user)
    started = time.monotonic()
    # The portable path in this process (the COPY fast path's bug would hang the test itself);
    # the two paths promise byte-identical files, so it is the reference for both.
    with override_settings(EXPORTS_COPY_FAST_PATH=False):
        assert export_run(export_id=str(export.pk)) == "finished"
    seconds = time.monotonic() - started
    export.refresh_from_db()
    data = read_export_bytes(export)
    Export.objects.filter(pk=export.pk).update(status="EXPIRED")
    return data, seconds


def job_status(export_id) -> str | None:
    return Export.objects.filter(pk=export_id).values_list("status", flat=True).first()


def checkpointed_parts(export_id) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT coalesce(jsonb_array_length(checkpoint->'parts'), 0) FROM {Export._meta.db_table} WHERE id = %s",
            [export_id],
        )
        return cursor.fetchone()[0]


def settled_after_kill(export_id, *, quiet: float = 0.5, timeout: float = 10) -> Export:
    """The job's row once it has not changed for `quiet` seconds (statements a killed worker had
    already sent finish on the server a moment later)."""
    deadline = time.monotonic() + timeout
    last = Export.objects.get(pk=export_id)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = Export.objects.get(pk=export_id)
        if now.checkpoint == last.checkpoint and now.heartbeat_at == last.heartbeat_at:
            return now
        last = now
    return last


def wait_for_checkpoint(
    export_id, *, parts: int, worker: Proc, procs: Procs, result: dict, timeout: float = 45
) -> None:
    """Wait until the worker's first attempt has checkpointed `parts` parts; fail as soon as that
    attempt is over instead (the worker died, the job ended, or it was handed to a new attempt),
    after recording `result` with outcome "stuck"."""

    def reached_or_over():
        row = Export.objects.filter(pk=export_id).values("status", "attempts").first()
        assert row is not None, f"export {export_id} is gone"
        done = checkpointed_parts(export_id)
        if done >= parts or row["status"] in TERMINAL or row["attempts"] > 1 or not worker.alive():
            return {**row, "checkpointed": done, "worker_alive": worker.alive()}
        return None

    state = wait_for(
        reached_or_over,
        timeout=timeout,
        what=f"{parts} checkpointed parts",
        procs=procs,
        watch=not_stuck(export_id, [worker]),
    )
    expected = {"status": "TRIGGERED", "attempts": 1, "checkpointed": state["checkpointed"], "worker_alive": True}
    if state != expected or state["checkpointed"] < parts:
        record(**result, outcome="stuck", **state)
        message = f"the first attempt ended before checkpointing {parts} parts: {state}"
        raise AssertionError(message + procs.tails() + thread_dumps([worker]))


def assert_same_bytes(data: bytes, expected: bytes) -> None:
    """Byte equality with a short message (pytest's diff of megabytes would be unreadable)."""
    if data != expected:
        at = next(
            (i for i, (a, b) in enumerate(zip(data, expected, strict=False)) if a != b), min(len(data), len(expected))
        )
        context = f"got {data[at - 60 : at + 60]!r}, expected {expected[at - 60 : at + 60]!r}"
        raise AssertionError(f"file differs: {len(data)} vs {len(expected)} bytes, first at byte {at}: {context}")


def record(test: str, **numbers) -> None:
    print(f"\n[{test}] " + ", ".join(f"{name}={value}" for name, value in numbers.items()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    line = {"test": test, "at": datetime.now(UTC).isoformat(timespec="seconds"), **numbers}
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(json.dumps(line, default=str) + "\n")


class _RecordsHandler(logging.Handler):
    """Appends every record it handles to a list."""

    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def captured_log(name: str):
    """Collect a logger's records instead of printing them (expected errors stay quiet)."""
    records: list[logging.LogRecord] = []
    handler = _RecordsHandler(records)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def superuser():
    return UserFactory(is_superuser=True)


@dataclass
class S3Scene:
    """A private moto S3 and Redis with the app pointed at both, and a campaign with the bytes
    an uninterrupted export of it must produce (portable path, in-process)."""

    moto: MotoServer
    broker: RedisServer
    user: object
    campaign: Campaign
    rows: int
    expected: bytes
    reference_seconds: float


def s3_scene(procs: Procs, send_to, moto_storages, *, entries: int) -> S3Scene:
    moto = start_moto(procs)
    broker = RedisServer(procs).start()
    send_to(broker.url)
    moto_storages(moto)
    user = superuser()
    campaign, rows = campaign_with_entries(entries)
    expected, reference_seconds = reference_bytes(campaign, user)
    return S3Scene(moto, broker, user, campaign, rows, expected, reference_seconds)


# --- 1. kill -9 of a worker mid-upload --------------------------------------------------------


@pytest.mark.parametrize("row_path", ROW_PATHS)
def test_worker_killed_mid_upload_is_resumed_by_another_worker_redoing_at_most_one_part(
    procs, tmp_path, send_to, moto_storages, row_path
):
    scene = s3_scene(procs, send_to, moto_storages, entries=90_000)
    moto, broker, user, campaign, rows = scene.moto, scene.broker, scene.user, scene.campaign, scene.rows
    expected, reference_seconds = scene.expected, scene.reference_seconds
    expected_parts = max(1, len(expected) // PART_SIZE)

    export = request_entries(campaign, user)
    env = service_env(tmp_path, broker_url=broker.url, moto=moto, **row_path_env(row_path))
    worker_a = start_worker(procs, "worker-a", env)
    started = time.monotonic()
    result = {"test": "kill9_worker_mid_upload", "row_path": row_path, "rows": rows}
    wait_for_checkpoint(export.pk, parts=expected_parts // 2, worker=worker_a, procs=procs, result=result)
    worker_a.kill()  # SIGKILL to rundramatiq's whole process group: no cleanup runs
    killed_at = time.monotonic()
    assert worker_a.wait_gone(10), "worker A outlived SIGKILL"
    # A statement worker A sent just before it died still completes on the server: read the
    # checkpoint once it has stopped moving.
    killed = settled_after_kill(export.pk)
    at_kill = len(killed.checkpoint["parts"])
    uploaded_at_kill = moto.parts_uploaded(killed.storage_key, killed.upload_id)
    assert killed.status == "TRIGGERED" and killed.attempts == 1

    worker_b = start_worker(procs, "worker-b", env)
    wait_for(
        lambda: job_status(export.pk) in TERMINAL,
        timeout=45,
        what="the job to end after the kill",
        procs=procs,
        watch=not_stuck(export.pk, [worker_b], attempt=2),
    )
    kill_to_finished = time.monotonic() - killed_at
    export.refresh_from_db()
    data = moto.read(export.storage_key) if export.status == "FINISHED" else b""
    resumes = [e for e in worker_b.events("export resumes") if e.get("export_id") == str(export.pk)]
    next_part = resumes[0]["next_part"] if resumes else None
    total_parts = moto.parts_of(export.storage_key) if export.status == "FINISHED" else None
    reconciled = [e for e in worker_b.events("exports reconciled") if e.get("retried")]
    record(
        "kill9_worker_mid_upload",
        row_path=row_path,
        rows=rows,
        bytes=len(expected),
        parts=total_parts,
        checkpointed_parts_at_kill=at_kill,
        parts_in_s3_at_kill=uploaded_at_kill,
        next_part=next_part,
        parts_redone=max(0, uploaded_at_kill - (next_part - 1)) if next_part else None,
        reference_run_seconds=round(reference_seconds, 2),
        worker_a_seconds_until_kill=round(killed_at - started, 2),
        seconds_kill_to_finished=round(kill_to_finished, 2),
        attempts=export.attempts,
        status=export.status,
    )
    assert export.status == "FINISHED", (export.error_message, export.error_payload, procs.tails())
    assert_same_bytes(data, expected)
    assert export.sha256 == hashlib.sha256(expected).hexdigest()
    assert export.row_count == rows and export.attempts == 2
    assert reconciled, "worker B's reconciler did not requeue the stale job" + worker_b.tail()
    assert next_part == at_kill + 1, f"resumed at part {next_part}, {at_kill} were checkpointed" + worker_b.tail()
    assert uploaded_at_kill - at_kill <= 1  # at most the one part in flight was lost with worker A
    assert total_parts and total_parts >= next_part
    assert moto.open_uploads() == []


# --- 2. Redis stopped and restarted with jobs queued ------------------------------------------


def test_redis_restart_loses_queued_messages_but_every_pending_job_finishes(procs, tmp_path, send_to):
    broker = RedisServer(procs).start()
    send_to(broker.url)
    user = superuser()
    # Small files (each under one part): this test is about the broker.
    demo_dataset_create(campaigns=5, entries=100, seed=11)
    campaigns = list(Campaign.objects.order_by("pk"))
    # Files go to a local folder here: this test is about the broker.
    env = service_env(tmp_path, broker_url=broker.url, EXPORTS_REENQUEUE_AFTER_SECONDS=2)

    # Phase 1: five jobs queued with no worker running; Redis restarts empty; a worker boots.
    first = [request_entries(campaign, user).pk for campaign in campaigns]
    queued_before = broker.queued()
    broker.stop()
    broker.start()  # same port, nothing persisted: the five messages are gone
    queued_after_restart = broker.queued()
    worker_started = time.monotonic()
    worker = start_worker(procs, "worker", env)
    wait_for(
        lambda: Export.objects.filter(pk__in=first, status__in=TERMINAL).count() == len(first),
        timeout=40,
        what="the five jobs queued before the Redis restart to end",
        procs=procs,
    )
    phase1_seconds = time.monotonic() - worker_started
    first_rows = list(Export.objects.filter(pk__in=first).values_list("status", "attempts"))
    booted = sum(e.get("count", 0) for e in worker.events("pending exports enqueued"))

    # Phase 2: Redis goes down under the running worker and five more jobs are requested (their
    # enqueue fails, they stay PENDING); Redis comes back empty; the reconciler re-sends them.
    broker.stop()
    down_at = time.monotonic()
    with captured_log("exports.queue") as failed_sends:
        second = [request_entries(campaign, user).pk for campaign in campaigns]
    failed_sends = [r for r in failed_sends if r.getMessage().startswith("export enqueue failed")]
    unsent = Export.objects.filter(pk__in=second, status="PENDING", enqueued_at__isnull=True).count()
    time.sleep(max(0.0, 2 - (time.monotonic() - down_at)))
    broker.start()
    restarted_at = time.monotonic()
    wait_for(
        lambda: Export.objects.filter(pk__in=second, status__in=TERMINAL).count() == len(second),
        timeout=40,
        what="the five jobs requested while Redis was down to end",
        procs=procs,
    )
    phase2_seconds = time.monotonic() - restarted_at
    second_rows = list(Export.objects.filter(pk__in=second).values_list("status", "attempts"))
    reenqueued = sum(e.get("reenqueued", 0) for e in worker.events("exports reconciled"))
    record(
        "redis_restart_with_pending_jobs",
        jobs=len(first) + len(second),
        queued_before_restart=queued_before,
        queued_after_restart=queued_after_restart,
        reenqueued_at_worker_boot=booted,
        seconds_worker_start_to_all_finished=round(phase1_seconds, 2),
        unsent_during_outage=unsent,
        failed_sends_logged=len(failed_sends),
        reenqueued_by_reconciler=reenqueued,
        seconds_redis_back_to_all_finished=round(phase2_seconds, 2),
        worker_alive=worker.alive(),
    )
    assert queued_before == len(first) and queued_after_restart == 0
    assert all(row == ("FINISHED", 1) for row in first_rows), first_rows
    assert booted >= len(first)
    assert unsent == len(second) and len(failed_sends) == len(second)
    assert all(row == ("FINISHED", 1) for row in second_rows), second_rows
    assert reenqueued >= len(second)
    assert worker.alive(), worker.tail()


# --- 3. S3 stopped mid-upload and restarted empty ---------------------------------------------


@pytest.mark.parametrize("row_path", ROW_PATHS)
def test_s3_outage_mid_upload_ends_finished_from_scratch_or_failed_transient(
    procs, tmp_path, send_to, moto_storages, row_path
):
    scene = s3_scene(procs, send_to, moto_storages, entries=40_000)
    moto, broker, user, campaign, rows, expected = (
        scene.moto,
        scene.broker,
        scene.user,
        scene.campaign,
        scene.rows,
        scene.expected,
    )

    export = request_entries(campaign, user)
    env = service_env(
        tmp_path, broker_url=broker.url, moto=moto, EXPORTS_RETRY_BACKOFF_SECONDS=1, **row_path_env(row_path)
    )
    worker = start_worker(procs, "worker", env)
    result = {"test": "s3_outage_mid_upload", "row_path": row_path, "rows": rows}
    wait_for_checkpoint(export.pk, parts=2, worker=worker, procs=procs, result=result)
    at_kill = checkpointed_parts(export.pk)
    moto.kill()
    killed_at = time.monotonic()
    time.sleep(4)
    status_while_down = job_status(export.pk)
    moto.start()  # same port, empty: the open upload and the buckets are gone (recreated here)
    back_at = time.monotonic()
    wait_for(lambda: job_status(export.pk) in TERMINAL, timeout=45, what="the job to end after the outage", procs=procs)
    ended_at = time.monotonic()
    export.refresh_from_db()
    retried = [e for e in worker.events("export will be retried") if e.get("export_id") == str(export.pk)]
    starts = [e for e in worker.events("export started") if e.get("export_id") == str(export.pk)]
    escaped = worker.output().count("Failed to process message")
    open_uploads = moto.open_uploads()
    record(
        "s3_outage_mid_upload",
        row_path=row_path,
        rows=rows,
        outcome=export.status,
        failure_kind=export.failure_kind,
        attempts=export.attempts,
        checkpointed_parts_at_kill=at_kill,
        status_while_down=status_while_down,
        transient_retries_logged=len(retried),
        runs_started=len(starts),
        actor_exceptions=escaped,
        seconds_down=round(back_at - killed_at, 2),
        seconds_back_to_end=round(ended_at - back_at, 2),
        open_uploads_after=len(open_uploads),
    )
    if export.status == "FINISHED":
        assert_same_bytes(moto.read(export.storage_key), expected)
        assert export.sha256 == hashlib.sha256(expected).hexdigest() and export.row_count == rows
        assert starts and starts[-1]["resumed"] is False  # the lost upload cannot be resumed
    else:
        assert export.status == "FAILED", (export.status, export.error_message, procs.tails())
        assert export.failure_kind == "transient", (export.error_message, export.error_payload)
        assert "unavailable" in export.error_message or "interrupted" in export.error_message
    assert retried, "the storage errors were not retried as transient" + worker.tail()
    assert open_uploads == []


# --- 4. 200 concurrent identical POSTs --------------------------------------------------------

CLIENT_SCRIPT = r"""
import json, sys, time, urllib.error, urllib.request
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import get_context

URL, TOKEN, BODY, TOTAL, PROCESSES = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])


def post(_):
    request = urllib.request.Request(
        URL, data=BODY.encode(), method="POST",
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    except OSError as error:
        return [0, repr(error), time.perf_counter() - started]
    try:
        export_id = json.loads(body).get("id")
    except ValueError:
        export_id = body[:200].decode(errors="replace")
    return [status, export_id, time.perf_counter() - started]


def burst(args):
    count, start_at = args
    time.sleep(max(0.0, start_at - time.time()))  # every process fires at the same instant
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(post, range(count)))


if __name__ == "__main__":
    start_at = time.time() + 1.0
    shares = [(TOTAL // PROCESSES + (i < TOTAL % PROCESSES), start_at) for i in range(PROCESSES)]
    with get_context("fork").Pool(PROCESSES) as pool:
        results = [result for chunk in pool.map(burst, shares) for result in chunk]
    print(json.dumps(results))
"""


def test_concurrent_identical_posts_from_many_processes_create_one_job(procs, tmp_path):
    broker = RedisServer(procs).start()  # receives the one message; nobody consumes it
    user = superuser()
    demo_dataset_create(campaigns=1, entries=50, seed=3)
    campaign = Campaign.objects.get()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = service_env(tmp_path, broker_url=broker.url)
    argv = [PYTHON, "-m", "gunicorn", "exportsite.wsgi", "-w", "4", "-b", f"127.0.0.1:{port}", "--timeout", "60"]
    procs.start("gunicorn", argv, env=env)

    # The test settings hash with MD5 for speed; the server has the production hashers.
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode("pw-123456", hasher.salt())
    user.save(update_fields=["password"])

    def token() -> str | None:
        try:
            response = requests.post(
                f"{base}/auth/token", json={"username": user.username, "password": "pw-123456"}, timeout=5
            )
        except requests.RequestException:
            return None  # not listening yet
        assert response.status_code == 200, response.text
        return response.json()["access"]

    access = wait_for(token, timeout=30, what="gunicorn to serve /auth/token", procs=procs, interval=0.2)
    total, processes = 200, 8
    started = time.monotonic()
    client = subprocess.run(
        [PYTHON, "-c", CLIENT_SCRIPT, f"{base}/campaigns/{campaign.pk}/exports", access, '{"exportType": "entries"}']
        + [str(total), str(processes)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    wall = time.monotonic() - started - 1.0  # minus the synchronised start delay
    assert client.returncode == 0, client.stderr[-3000:]
    results = json.loads(client.stdout)
    statuses = [status for status, _, _ in results]
    ids = {export_id for _, export_id, _ in results}
    latencies = sorted(seconds for _, _, seconds in results)
    jobs = list(Export.objects.values_list("pk", flat=True))
    record(
        "concurrent_identical_posts",
        requests=len(results),
        processes=processes,
        created_201=statuses.count(201),
        existing_200=statuses.count(200),
        other_statuses=sorted({s for s in statuses if s not in (200, 201)}),
        distinct_ids=len(ids),
        export_rows=len(jobs),
        messages_enqueued=broker.queued(),
        wall_seconds=round(wall, 2),
        latency_p50_ms=round(statistics.median(latencies) * 1000, 1),
        latency_p95_ms=round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
        latency_max_ms=round(latencies[-1] * 1000, 1),
    )
    assert len(results) == total
    assert statuses.count(201) == 1 and statuses.count(200) == total - 1, sorted(set(statuses))
    assert len(jobs) == 1 and ids == {str(jobs[0])}
    assert broker.queued() == 1  # only the creating request enqueued


# --- 5. Two workers, duplicate messages -------------------------------------------------------


@pytest.mark.parametrize("row_path", ROW_PATHS)
def test_two_workers_and_duplicate_messages_run_the_job_exactly_once(procs, tmp_path, send_to, row_path):
    moto = start_moto(procs)
    broker = RedisServer(procs).start()
    sender = send_to(broker.url)
    user = superuser()
    campaign, rows = campaign_with_entries(20_000)
    # Prefetch 1: a worker busy with a message fetches no other, so the duplicates cannot all end
    # up with the worker running the job (Dramatiq's default prefetch is 2 per thread).
    env = service_env(tmp_path, broker_url=broker.url, moto=moto, dramatiq_queue_prefetch=1, **row_path_env(row_path))
    workers = [start_worker(procs, "worker-1", env), start_worker(procs, "worker-2", env)]
    wait_for(
        lambda: len(broker.consumers(exclude={sender.broker_id})) >= 2,
        timeout=30,
        what="both workers to consume",
        procs=procs,
        interval=0.1,
    )
    started = time.monotonic()
    export = request_entries(campaign, user)  # message 1 (on commit)
    actor = dramatiq.get_broker().get_actor("export_entries")
    actor.send(str(export.pk))  # message 2
    actor.send(str(export.pk))  # message 3
    sent = 3
    wait_for(
        lambda: job_status(export.pk) in TERMINAL,
        timeout=45,
        what="the job to end",
        procs=procs,
        watch=single_attempt(
            export.pk, workers, procs, result={"test": "two_workers_duplicate_messages", "row_path": row_path}
        ),
    )
    seconds = time.monotonic() - started

    def events(name: str) -> list[list[dict]]:
        return [[e for e in w.events(name) if e.get("export_id") == str(export.pk)] for w in workers]

    boot_sends = sum(e.get("count", 0) for w in workers for e in w.events("pending exports enqueued"))
    total_messages = sent + boot_sends
    # Every message was delivered and handled: one run, the rest skipped as no longer PENDING.
    wait_for(
        lambda: (
            sum(len(x) for x in events("export started") + events("export not pending; message skipped"))
            >= total_messages
        ),
        timeout=15,
        what=f"all {total_messages} messages to be handled",
        procs=procs,
    )
    started_runs, skipped = events("export started"), events("export not pending; message skipped")
    export.refresh_from_db()
    record(
        "two_workers_duplicate_messages",
        row_path=row_path,
        rows=rows,
        messages_sent=sent,
        boot_reenqueues=boot_sends,
        runs_started_per_worker=[len(x) for x in started_runs],
        skipped_per_worker=[len(x) for x in skipped],
        attempts=export.attempts,
        status=export.status,
        seconds_to_finished=round(seconds, 2),
    )
    assert export.status == "FINISHED", (export.error_message, procs.tails())
    assert export.attempts == 1 and export.row_count == rows
    assert sum(len(x) for x in started_runs) == 1, started_runs
    assert sum(len(x) for x in skipped) == total_messages - 1
    handled = [len(runs) + len(skips) for runs, skips in zip(started_runs, skipped, strict=True)]
    assert all(handled), f"only one worker got messages for the job: {handled}"
