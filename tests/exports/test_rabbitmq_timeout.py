"""RabbitMQ's consumer_timeout and a long export (issue 15; PostgreSQL mode only, about 3.5 minutes).

A private RabbitMQ node with `consumer_timeout = 60000` (the lowest RabbitMQ supports; it checks
about once a minute), a real worker on the shipped settings (only the part size is small, so the
file has many parts) and a private moto S3 that the test freezes most of the time (SIGSTOP, a
short SIGCONT every few seconds), so the export runs for RUN_SECONDS, 1.5 minutes past the
timeout. The message must be acked at once (exports/early_ack.py): the job ends FINISHED in one
attempt and one run, RabbitMQ never times the delivery out nor redelivers it, and the file has
every row. With Dramatiq's ack-after-the-actor, RabbitMQ closes the channel between 60 and 120 s
in and hands the message out again.
"""

from __future__ import annotations

import csv
import io
import signal
import threading
import time
from pathlib import Path

import dramatiq
import dramatiq.broker
import pytest
from django.db import connection
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from exports.models import Export
from exports.types import EXPORT_TYPES
from exportsite.settings.workers import broker_from_url
from tests.exports.test_faults import (  # noqa: F401 - `procs` is a fixture
    campaign_with_entries,
    procs,
    pytestmark,
    record,
    request_entries,
    start_moto,
    superuser,
)
from tests.processes import MotoServer, Proc, Procs, RabbitNode, database_url, process_env, start_worker, wait_for

pytestmark = [
    *pytestmark,
    pytest.mark.skipif(not RabbitNode.BIN.joinpath("rabbitmq-server").exists(), reason="needs rabbitmq-server"),
]

CONSUMER_TIMEOUT_MS = 60_000
RUN_SECONDS = 150
ENTRIES = 150_000
QUEUE = EXPORT_TYPES["entries"].queue_name
# Shipped settings but the part size: many small parts make a frozen S3 a slow export.
WORKER_SETTINGS = {
    "DJANGO_DEBUG": "1",
    "DJANGO_SECRET_KEY": "rabbitmq-timeout-test-secret-key-long-enough-for-hs256",
    "LOG_LEVEL": "INFO",
    "EXPORTS_PART_SIZE_KB": 64,
    "PYTHONFAULTHANDLER": "1",
}


@pytest.fixture
def rabbit(procs):  # noqa: F811 - fixture
    node = RabbitNode(procs, settings={"consumer_timeout": CONSUMER_TIMEOUT_MS})
    try:
        yield node.start()
    finally:
        node.stop()  # before stop_all removes its folder


@pytest.fixture
def send_via(monkeypatch):
    """Point this process's actors at a RabbitMQ node, as a web process's DRAMATIQ_BROKER_URL does."""
    made: list[RabbitmqBroker] = []

    def redirect(url: str) -> None:
        current = dramatiq.get_broker()
        broker = RabbitmqBroker(url=url)
        for actor in list(current.actors.values()):
            broker.declare_actor(actor)
            monkeypatch.setattr(actor, "broker", broker)
        monkeypatch.setattr(dramatiq.broker, "global_broker", broker)
        made.append(broker)

    yield redirect
    for broker in made:
        broker.close()


class Throttle:
    """Keeps a server frozen but for `awake` seconds every `period` (SIGSTOP / SIGCONT)."""

    def __init__(self, proc: Proc, *, period: float = 3.0, awake: float = 0.05):
        self.proc, self.period, self.awake = proc, period, awake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Throttle:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self.proc.signal_group(signal.SIGSTOP)
                self._stop.wait(self.period - self.awake)
                self.proc.signal_group(signal.SIGCONT)
                time.sleep(self.awake)
        finally:
            self.proc.signal_group(signal.SIGCONT)


def _worker(registry: Procs, tmp_path: Path, rabbit: RabbitNode, moto: MotoServer) -> Proc:
    env = process_env(
        database_url=database_url(connection.settings_dict),
        broker_url=rabbit.url,
        var_dir=tmp_path / "var",
        settings={**WORKER_SETTINGS, **moto.worker_env()},
    )
    worker = start_worker(registry, "rabbit-worker", env)
    # Ready = booted, and the re-send of PENDING jobs at boot is done (none now), so every
    # message the job gets from here on is the one its request sends.
    wait_for(lambda: worker.events("rabbitmq worker ready"), timeout=60, what="the worker to boot", proc=worker)
    return worker


def _for(export_id: str, records: list[dict]) -> list[dict]:
    return [r for r in records if r.get("export_id") == export_id]


def test_an_export_outliving_consumer_timeout_is_not_redelivered(procs, tmp_path, rabbit, send_via):  # noqa: F811
    assert broker_from_url("DRAMATIQ_BROKER_URL", rabbit.url)[0] == "exportsite.broker.EarlyAckRabbitmqBroker", (
        "amqp:// must select the early-ack broker (exportsite/settings/workers.py)"
    )
    assert (
        rabbit.ctl("eval", "application:get_env(rabbit, consumer_timeout).").strip() == f"{{ok,{CONSUMER_TIMEOUT_MS}}}"
    )
    campaign, rows = campaign_with_entries(ENTRIES)
    moto = start_moto(procs)
    worker = _worker(procs, tmp_path, rabbit, moto)
    send_via(rabbit.url)
    assert moto.proc is not None
    unacked_seen: list[int] = []
    with Throttle(moto.proc):
        export = request_entries(campaign, superuser())
        export_id = str(export.pk)
        claimed = wait_for(
            lambda: (
                Export.objects.filter(pk=export_id, status="TRIGGERED").values_list("triggered_at", flat=True).first()
            ),
            timeout=30,
            what="the worker to claim the job",
            procs=procs,
        )
        started = time.monotonic()
        while time.monotonic() - started < RUN_SECONDS:
            time.sleep(10)
            unacked_seen.append(rabbit.queues().get(QUEUE, (0, 0))[1])
            assert Export.objects.get(pk=export_id).status == "TRIGGERED", (
                f"the export ended {time.monotonic() - started:.0f}s in, before {RUN_SECONDS}s: make it slower"
                + procs.tails()
            )
        held = time.monotonic() - started
    wait_for(
        lambda: Export.objects.filter(pk=export_id, status__in=("FINISHED", "FAILED", "EXPIRED", "CANCELLED")).exists(),
        timeout=90,
        what="the export to end once S3 runs freely",
        procs=procs,
    )
    total = time.monotonic() - started
    time.sleep(2)  # the worker's log lines after the end
    export.refresh_from_db()
    logs = worker.events()
    starts = _for(export_id, worker.events("export started"))
    skipped = _for(export_id, worker.events("export not pending; message skipped"))
    redelivered = _for(export_id, worker.events("export message redelivered by RabbitMQ"))
    timed_out = rabbit.log().count("delivery acknowledgement on channel")
    # Dramatiq's words for a channel RabbitMQ closed, and for an ack sent on the wrong channel.
    broker_trouble = ("connection error", "Failed to ack", "Failed to nack")
    channel_errors = [r["event"] for r in logs if any(words in str(r.get("event", "")) for words in broker_trouble)]
    record(
        "rabbitmq_consumer_timeout",
        held_seconds=round(held, 1),
        claim_to_end_seconds=round(total, 1),
        status=export.status,
        attempts=export.attempts,
        runs=len(starts),
        skipped_copies=len(skipped),
        redelivered=len(redelivered),
        node_timeouts=timed_out,
        unacked_during_run=unacked_seen,
        claimed_at=claimed,
    )
    assert (export.status, export.attempts) == ("FINISHED", 1), procs.tails()
    assert len(starts) == 1 and not skipped and not redelivered, (starts, skipped, redelivered)
    assert timed_out == 0 and not channel_errors, (timed_out, channel_errors)
    assert unacked_seen and max(unacked_seen) == 0, f"the message stayed unacked during the run: {unacked_seen}"
    assert all(unacked == 0 for _ready, unacked in rabbit.queues().values())
    data = moto.read(export.storage_key, alias=export.storage_alias)
    delimiter = "\t" if export.storage_key.endswith(".tsv") else ","  # entries are TSV by default
    records = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter))
    assert (len(records), export.row_count) == (rows + 1, rows), "the file or the count is incomplete"
    assert not moto.open_uploads()
