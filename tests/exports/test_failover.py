"""Failover with the shipped defaults: a dead worker's job resumes elsewhere within seconds, and a
busy one is never taken for dead (exports/engine/liveness.py, reconcile.StaleWatch).

The first tests run in both passes and check the pieces in this process: the per-process beat
(only inside an actor's vouch(), fenced by attempt, silent runs dropped), the takeover without
backoff, and when a worker may take over at all. The process tests (PostgreSQL pass only) run
real `rundramatiq` workers with NO timer settings in their environment, a private Redis and a
private moto S3, like tests/exports/test_faults.py, and append their numbers to
out/fault-results.jsonl.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign, Entry
from campaigns.services import demo_dataset_create
from exports import states
from exports.engine import liveness
from exports.engine.attempt import Run
from exports.engine.reconcile import StaleWatch, export_reconcile_stale
from exports.models import Export
from exports.types import EXPORT_TYPES
from exportsite.conf import export_settings
from tests.conftest import TERMINAL
from tests.exports import test_faults
from tests.exports.test_faults import (  # noqa: F401 - procs, send_to and moto_storages are fixtures
    BUCKETS,
    campaign_with_entries,
    checkpointed_parts,
    moto_storages,
    procs,
    record,
    request_entries,
    send_to,
    superuser,
)
from tests.processes import MotoServer, Proc, Procs, RedisServer, database_url, process_env, start_worker, wait_for

# The guarantee (issue 15): a killed worker's job moves again on another worker within this.
FAILOVER_SECONDS = 15


def process_test(test):
    """The marks of the fault tests: PostgreSQL pass only, transactional, needs redis-server."""
    for mark in reversed(test_faults.pytestmark):
        test = mark(test)
    return test


def claimed_job() -> Export:
    """A TRIGGERED entries job (attempt 1), as a worker's claim leaves it."""
    demo_dataset_create(campaigns=1, entries=2, seed=5)
    export = request_entries(Campaign.objects.get(), superuser())
    assert states.claim(export.pk, time_limit=timedelta(hours=1))
    export.refresh_from_db()
    return export


def since(moment: datetime | None) -> float:
    """Seconds from `moment` (a heartbeat, never empty on a claimed job) to now."""
    assert moment is not None
    return (timezone.now() - moment).total_seconds()


def heartbeat_age(export_id) -> float:
    return since(Export.objects.values_list("heartbeat_at", flat=True).get(pk=export_id))


def age_heartbeat(export_id, seconds: float) -> None:
    Export.objects.filter(pk=export_id).update(heartbeat_at=timezone.now() - timedelta(seconds=seconds))


# --- the pieces, in this process (both passes) -------------------------------------------------


@pytest.mark.django_db
def test_the_process_beats_for_a_run_only_while_its_actor_vouches_and_only_for_its_attempt():
    export = claimed_job()
    outside = Run(export, EXPORT_TYPES["entries"])  # e.g. a test calling export_run directly
    assert outside._liveness is None and liveness.running() == []

    with liveness.vouch():
        Run(export, EXPORT_TYPES["entries"])
        age_heartbeat(export.pk, 60)
        assert liveness.beat() == 1
        assert heartbeat_age(export.pk) < 5
        # Taken over by a new attempt: the old attempt's beat matches nothing, nor revives it.
        Export.objects.filter(pk=export.pk).update(attempts=2)
        age_heartbeat(export.pk, 60)
        assert liveness.beat() == 0
        assert heartbeat_age(export.pk) > 50
    assert liveness.running() == []  # the actor returned: nobody vouches any more
    Export.objects.filter(pk=export.pk).update(attempts=1)
    assert liveness.beat() == 0


@pytest.mark.django_db
def test_a_run_silent_past_the_limit_is_no_longer_vouched_for():
    export = claimed_job()
    with liveness.vouch():
        run = Run(export, EXPORT_TYPES["entries"])
        assert run._liveness is not None
        run._liveness.active_at = time.monotonic() - liveness.SILENT_LIMIT_SECONDS - 1
        assert liveness.beat() == 0  # its thread is stuck: given up like a dead worker's
        run.advance(rows=1)  # any report from the row loop is a sign of life, even a deferred one
        assert liveness.beat() == 1


@pytest.mark.django_db
def test_a_dead_workers_job_goes_back_to_pending_and_is_sent_again_without_backoff():
    conf = export_settings()
    assert conf.retry_backoff_seconds > 0  # else "no backoff" would prove nothing
    export = claimed_job()
    age_heartbeat(export.pk, conf.stale_after_seconds - 3)
    assert export_reconcile_stale().retried == 0  # not stale yet
    age_heartbeat(export.pk, conf.stale_after_seconds + 1)
    before = timezone.now()
    report = export_reconcile_stale()
    export.refresh_from_db()
    assert report.retried == 1 and export.status == "PENDING"
    assert "stopped" in export.error_message
    # Sent for now, not after the retry backoff (enqueued_at is when the message is due).
    assert export.enqueued_at is not None and export.enqueued_at - before < timedelta(seconds=1)


@pytest.mark.django_db
def test_a_worker_takes_jobs_over_only_after_reaching_the_database_for_a_whole_stale_period():
    stale_after = export_settings().stale_after_seconds
    export = claimed_job()
    age_heartbeat(export.pk, stale_after + 30)
    watch = StaleWatch()
    for second in range(stale_after):  # e.g. just after a database restart: live beats go first
        assert watch.tick(now=float(second)) is None
    assert job_status(export.pk) == "TRIGGERED"
    watch.unreachable()  # the database failed this worker again: the wait starts over
    for second in range(stale_after, 2 * stale_after):
        watch.tick(now=float(second))
    assert job_status(export.pk) == "TRIGGERED"
    report = watch.tick(now=float(2 * stale_after))
    assert report is not None and report.retried == 1
    assert job_status(export.pk) == "PENDING"


@pytest.mark.django_db
def test_a_worker_that_was_frozen_waits_before_taking_jobs_over():
    stale_after = export_settings().stale_after_seconds
    export = claimed_job()
    watch = StaleWatch()
    for second in range(stale_after + 1):
        watch.tick(now=float(second))
    age_heartbeat(export.pk, stale_after + 30)
    # This process did not run for a minute (SIGSTOP, swapping): its own runs' beats are as old as
    # anyone's, so it first lets them through.
    assert watch.tick(now=60.0 + stale_after) is None
    assert job_status(export.pk) == "TRIGGERED"


def test_a_stale_period_shorter_than_the_beat_stops_start_up(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "exportsite.settings",
        "DJANGO_DEBUG": "1",
        "EXPORTSITE_VAR_DIR": str(tmp_path),
        "EXPORTS_LIVENESS_INTERVAL_SECONDS": "5",
        "EXPORTS_STALE_AFTER_SECONDS": "5",
    }
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "EXPORTS_STALE_AFTER_SECONDS must be greater than EXPORTS_LIVENESS_INTERVAL_SECONDS (5)" in result.stderr


def job_status(export_id) -> str | None:
    return Export.objects.filter(pk=export_id).values_list("status", flat=True).first()


# --- real workers with the defaults (PostgreSQL pass) -------------------------------------------


def default_env(tmp_path, *, broker: RedisServer, moto: MotoServer) -> dict:
    """A worker's environment with the shipped defaults: no timer, interval or part size set."""
    env = process_env(
        database_url=database_url(connection.settings_dict),
        broker_url=broker.url,
        var_dir=tmp_path / "var",
        settings={
            "DJANGO_DEBUG": "1",
            "DJANGO_SECRET_KEY": "failover-tests-secret-key-long-enough-for-hs256-signing",
            "LOG_LEVEL": "INFO",
            "PYTHONFAULTHANDLER": "1",
            **moto.worker_env(),
        },
    )
    tuned = [name for name in env if name.startswith("EXPORTS_") and not name.startswith("EXPORTS_STORAGE_")]
    assert tuned == [], f"the failover tests run the defaults, but the workers get {tuned}"
    return env


def two_workers(registry: Procs, env: dict, broker: RedisServer, sender) -> list[Proc]:
    workers = [start_worker(registry, "worker-1", env), start_worker(registry, "worker-2", env)]
    wait_for(
        lambda: len(broker.consumers(exclude={sender.broker_id})) >= 2,
        timeout=30,
        what="both workers to consume",
        procs=registry,
        interval=0.1,
    )
    return workers


def object_sha256(moto: MotoServer, key: str) -> str:
    digest = hashlib.sha256()
    for chunk in moto.client().get_object(Bucket=BUCKETS["exports"], Key=key)["Body"].iter_chunks(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def events_of(worker: Proc, event: str, export_id) -> list[dict]:
    return [e for e in worker.events(event) if e.get("export_id") == str(export_id)]


def wait_mid_export(export_id, *, parts: int, registry: Procs) -> None:
    """Until the first attempt has checkpointed `parts` parts; fails if it ended before."""
    state = wait_for(
        lambda: (
            row
            if (row := Export.objects.filter(pk=export_id).values("status", "attempts").first())
            and (row["status"] in TERMINAL or row["attempts"] > 1 or checkpointed_parts(export_id) >= parts)
            else None
        ),
        timeout=60,
        what=f"{parts} checkpointed parts",
        procs=registry,
        interval=0.02,
    )
    assert state == {"status": "TRIGGERED", "attempts": 1}, f"the first attempt ended early: {state}" + registry.tails()


def follow_failover(export_id, *, killed_at: float, rows_at_kill: int, timeout: float) -> dict:
    """Poll the job after the kill: seconds to PENDING (taken over), to the new attempt's claim,
    to its first progress (resumed: rows_written moving on attempt 2) and to the end."""
    seen: dict = {}
    deadline = killed_at + timeout
    while time.monotonic() < deadline:
        row = Export.objects.values("status", "attempts", "rows_written").get(pk=export_id)
        at = round(time.monotonic() - killed_at, 2)
        if row["status"] == "PENDING":
            seen.setdefault("requeued", at)
        if row["attempts"] > 1:
            seen.setdefault("claimed", at)
            if row["rows_written"] != rows_at_kill or row["status"] == "FINISHED":
                seen.setdefault("resumed", at)
        if row["status"] in TERMINAL:
            seen["ended"] = at
            return seen
        time.sleep(0.02)
    return seen


@process_test
def test_a_killed_workers_job_resumes_on_another_worker_within_15_seconds_with_the_defaults(
    procs,  # noqa: F811 - fixture
    tmp_path,
    send_to,  # noqa: F811 - fixture
    moto_storages,  # noqa: F811 - fixture
):
    moto = MotoServer(procs, buckets=BUCKETS).start()  # S3's own minimum part size: the default parts
    broker = RedisServer(procs).start()
    sender = send_to(broker.url)
    moto_storages(moto)
    workers = two_workers(procs, default_env(tmp_path, broker=broker, moto=moto), broker, sender)
    user = superuser()
    started = time.monotonic()
    campaign, rows = campaign_with_entries(200_000)
    dataset_seconds = time.monotonic() - started

    # The undisturbed run, by the same workers: the file the killed one must equal.
    reference = request_entries(campaign, user)
    wait_for(lambda: job_status(reference.pk) in TERMINAL, timeout=60, what="the reference run", procs=procs)
    reference.refresh_from_db()
    assert (reference.status, reference.attempts) == ("FINISHED", 1), reference.error_message
    expected_sha = object_sha256(moto, reference.storage_key)
    assert reference.finished_at is not None and reference.triggered_at is not None
    reference_seconds = (reference.finished_at - reference.triggered_at).total_seconds()
    moto.client().delete_object(Bucket=BUCKETS["exports"], Key=reference.storage_key)
    Export.objects.filter(pk=reference.pk).update(status="EXPIRED")  # the dedupe lets the same request in

    export = request_entries(campaign, user)
    total_parts = max(1, reference.bytes_written // export_settings().part_size_bytes)
    wait_mid_export(export.pk, parts=max(1, total_parts // 3), registry=procs)
    running = [w for w in workers if events_of(w, "export started", export.pk)]
    assert len(running) == 1, "no single worker reports running the job" + procs.tails()
    victim, survivor = running[0], next(w for w in workers if w is not running[0])
    victim.kill()  # SIGKILL to its process group: no clean-up runs
    killed_at = time.monotonic()
    at_kill = Export.objects.get(pk=export.pk)
    beat_age_at_kill = since(at_kill.heartbeat_at)
    checkpointed_at_kill = len(at_kill.checkpoint["parts"])
    seen = follow_failover(export.pk, killed_at=killed_at, rows_at_kill=at_kill.rows_written, timeout=60)
    export.refresh_from_db()
    resumes = events_of(survivor, "export resumes", export.pk)
    record(
        "failover_kill9_defaults",
        rows=rows,
        bytes=reference.bytes_written,
        parts=total_parts,
        dataset_seconds=round(dataset_seconds, 2),
        reference_run_seconds=round(reference_seconds, 2),
        checkpointed_parts_at_kill=checkpointed_at_kill,
        heartbeat_age_at_kill=round(beat_age_at_kill, 2),
        seconds_kill_to_requeued=seen.get("requeued"),
        seconds_kill_to_claimed=seen.get("claimed"),
        seconds_kill_to_resumed=seen.get("resumed"),
        seconds_kill_to_finished=seen.get("ended"),
        next_part=resumes[0]["next_part"] if resumes else None,
        attempts=export.attempts,
        status=export.status,
    )
    assert export.status == "FINISHED", (export.error_message, export.error_payload, procs.tails())
    assert export.attempts == 2 and export.row_count == rows
    assert seen.get("resumed") is not None and seen["resumed"] <= FAILOVER_SECONDS, seen
    assert resumes and resumes[0]["next_part"] == checkpointed_at_kill + 1, survivor.tail()
    assert [e for e in survivor.events("exports reconciled") if e.get("retried")], survivor.tail()
    assert export.sha256 == expected_sha and object_sha256(moto, export.storage_key) == expected_sha
    assert moto.open_uploads() == []


@contextmanager
def entries_locked():
    """Every COPY of the entries table waits while this holds an ACCESS EXCLUSIVE lock on it."""
    with psycopg.connect(database_url(connection.settings_dict)) as locker:
        locker.execute(f"LOCK TABLE {Entry._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            locker.rollback()


@contextmanager
def s3_frozen(moto: MotoServer):
    """The S3 server stopped (SIGSTOP): a part upload in flight waits, as on a very slow link."""
    assert moto.proc is not None
    moto.proc.signal_group(signal.SIGSTOP)
    try:
        yield
    finally:
        moto.proc.signal_group(signal.SIGCONT)


def stalled(export_id, seconds: float) -> list[tuple[float, int, float, int]]:
    """Samples of the job while the caller keeps its run stalled for `seconds`: (seconds in,
    rows_written, heartbeat age, attempt)."""
    samples = []
    began = time.monotonic()
    while (into := time.monotonic() - began) < seconds:
        row = Export.objects.values("rows_written", "heartbeat_at", "attempts").get(pk=export_id)
        samples.append((into, row["rows_written"], since(row["heartbeat_at"]), row["attempts"]))
        time.sleep(0.25)
    return samples


@process_test
def test_a_run_whose_thread_is_stalled_longer_than_stale_after_is_not_taken_for_dead(
    procs,  # noqa: F811 - fixture
    tmp_path,
    send_to,  # noqa: F811 - fixture
    moto_storages,  # noqa: F811 - fixture
):
    """One run, stalled twice for longer than stale-after: first its part upload (the S3 server
    frozen), then its COPY batches (the entries table locked)."""
    moto = MotoServer(procs, buckets=BUCKETS).start()
    broker = RedisServer(procs).start()
    sender = send_to(broker.url)
    moto_storages(moto)
    workers = two_workers(procs, default_env(tmp_path, broker=broker, moto=moto), broker, sender)
    campaign, rows = campaign_with_entries(200_000)
    stale_after = export_settings().stale_after_seconds  # the workers' too: both run the defaults
    stall_seconds = stale_after + 3  # the run's own last heartbeat is older still
    export = request_entries(campaign, superuser())
    stalls = {}
    for name, parts, stall in (("upload-frozen", 2, s3_frozen(moto)), ("copy-blocked", 5, entries_locked())):
        wait_mid_export(export.pk, parts=parts, registry=procs)
        with stall:
            stalls[name] = stalled(export.pk, stall_seconds)
    wait_for(lambda: job_status(export.pk) in TERMINAL, timeout=60, what="the job to end", procs=procs)
    export.refresh_from_db()
    # From 3 s in: the rows already read (a batch per reader, a part in the buffer) are written by then.
    stalled_rows = {name: sorted({r for into, r, _, _ in samples if into > 3}) for name, samples in stalls.items()}
    max_age = {name: round(max(age for _, _, age, _ in samples), 2) for name, samples in stalls.items()}
    retried = [e for w in workers for e in w.events("exports reconciled") if e.get("retried")]
    record(
        "failover_stalled_run_defaults",
        rows=rows,
        stall_seconds=stall_seconds,
        stale_after_seconds=stale_after,
        max_heartbeat_age=max_age,
        rows_written_during_stall=stalled_rows,
        attempts=export.attempts,
        status=export.status,
    )
    for name, samples in stalls.items():
        # The stall was real: the run's own thread wrote nothing for longer than stale-after.
        assert len(stalled_rows[name]) == 1, f"{name}: the run kept writing rows: {stalled_rows[name]}"
        assert max_age[name] < stale_after, (name, samples)
        assert {attempt for _, _, _, attempt in samples} == {1}, (name, samples)
    assert export.status == "FINISHED" and export.attempts == 1 and export.row_count == rows, procs.tails()
    assert retried == []
    assert export.sha256 == object_sha256(moto, export.storage_key)
