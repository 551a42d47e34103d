"""The fast path's parallel COPY readers: same bytes as one reader and as the portable path,
batches written in key order, and a failing reader fails the run cleanly (PostgreSQL only)."""

import threading

import pytest
from django.db import OperationalError, connection

from exports.engine import copy as copy_path
from exports.engine import export_run
from exports.engine.uploader import PartUploader
from exports.models import Export
from exports.services import export_request
from tests.conftest import open_uploads
from tests.exports.test_copy_fast_path import _bytes, _dataset
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),  # readers use connections of their own: the data must be committed
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the fast path exists on PostgreSQL only"),
]


@pytest.fixture
def tiny_batches(monkeypatch):
    """Batches of a few rows, so a 40-entry campaign is read in many batches by every reader."""
    monkeypatch.setattr(copy_path, "_FIRST_BATCH_ROWS", 2)
    monkeypatch.setattr(copy_path, "_MIN_BATCH_ROWS", 1)
    monkeypatch.setattr(copy_path, "_MAX_BATCH_ROWS", 3)
    monkeypatch.setattr(copy_path, "_SOLO_ROWS", 4)  # the reader pool takes over after 4 rows


@pytest.fixture
def pools(monkeypatch):
    """How many ReaderPools ran, and how many batches each reader thread read."""
    used: list[int] = []
    batches_by_thread: dict[str, int] = {}
    real_enter, real_chunks = copy_path.ReaderPool.__enter__, copy_path.BatchStatement.chunks

    def counting_enter(self):
        used.append(self._readers)
        return real_enter(self)

    def counting_chunks(self, after_id, upper_id):
        name = threading.current_thread().name
        batches_by_thread[name] = batches_by_thread.get(name, 0) + 1
        return real_chunks(self, after_id, upper_id)

    monkeypatch.setattr(copy_path.ReaderPool, "__enter__", counting_enter)
    monkeypatch.setattr(copy_path.BatchStatement, "chunks", counting_chunks)
    return used, batches_by_thread


@pytest.mark.parametrize(
    "body",
    [{"exportType": "entries"}, {"exportType": "entries", "includeAllMarkets": True, "format": "csv"}],
    ids=["entries", "all-markets-csv"],
)
def test_parallel_readers_write_the_same_bytes_as_one_reader_and_the_portable_path(settings, tiny_batches, pools, body):
    used, batches_by_thread = pools
    campaign = _dataset()
    user = UserFactory.create(is_superuser=True)
    settings.EXPORTS_COPY_READERS = 3
    parallel = _bytes(campaign, body, user)
    assert used == [3]
    reader_threads = {name for name in batches_by_thread if name.startswith("copy-reader-")}
    assert len(reader_threads) >= 2, batches_by_thread  # batches really were spread over readers
    assert sum(batches_by_thread.values()) >= 10

    assert batches_by_thread[threading.current_thread().name] >= 2  # the first batches: on the job's connection

    settings.EXPORTS_COPY_READERS = 1
    batches_by_thread.clear()
    single = _bytes(campaign, body, user)
    assert used == [3], "one reader reads on the job's own connection, without a pool"
    assert set(batches_by_thread) == {threading.current_thread().name}

    settings.EXPORTS_COPY_FAST_PATH = False
    portable = _bytes(campaign, body, user)
    assert parallel == single == portable
    assert parallel.count(b"\n") > 40


def test_a_failing_reader_fails_the_run_and_leaves_no_upload_or_thread(settings, tiny_batches, monkeypatch):
    campaign = _dataset()
    user = UserFactory.create(is_superuser=True)
    settings.EXPORTS_COPY_READERS = 2
    settings.EXPORTS_MAX_ATTEMPTS = 1
    real_chunks = copy_path.BatchStatement.chunks
    calls = []

    def failing_chunks(self, after_id, upper_id):
        calls.append(after_id)
        if len(calls) == 4:
            raise OperationalError("server closed the connection unexpectedly")
        return real_chunks(self, after_id, upper_id)

    monkeypatch.setattr(copy_path.BatchStatement, "chunks", failing_chunks)
    export, _ = export_request(campaign_id=campaign.pk, body={"exportType": "entries"}, user=user)
    assert export_run(export_id=str(export.pk)) == "failed"
    export.refresh_from_db()
    assert export.status == "FAILED"
    assert export.failure_kind == "transient"
    assert "database, storage or broker was unavailable" in export.error_message
    assert open_uploads() == []
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("copy-reader-")]


def test_a_reader_whose_connection_the_server_ended_is_an_outage_retried_at_once(
    settings, tiny_batches, monkeypatch, caplog
):
    """A restart ends every backend, but the job's thread may have reconnected (a heartbeat rode
    it out) before the reader's error reaches it: the reader notes that its connection was lost,
    so the run is retried without backoff, as after any database outage."""
    from tests.exports.test_db_retry import drop_connection

    campaign = _dataset()
    user = UserFactory.create(is_superuser=True)
    settings.EXPORTS_COPY_READERS = 2
    real_chunks = copy_path.BatchStatement.chunks
    calls = []

    def chunks_after_a_restart(self, after_id, upper_id):
        calls.append(threading.current_thread().name)
        if len(calls) == 4 and calls[-1].startswith("copy-reader-"):
            drop_connection()  # this reader's backend, ended by the server
        return real_chunks(self, after_id, upper_id)

    monkeypatch.setattr(copy_path.BatchStatement, "chunks", chunks_after_a_restart)
    export, _ = export_request(campaign_id=campaign.pk, body={"exportType": "entries"}, user=user)
    with caplog.at_level("WARNING", logger="exports.engine.outcomes"):
        assert export_run(export_id=str(export.pk)) == "retrying"
    assert calls[3].startswith("copy-reader-"), calls
    retried = [r for r in caplog.records if r.getMessage() == "export will be retried"]
    assert [(r.delay_seconds, r.database_outage) for r in retried] == [(0, True)]
    export.refresh_from_db()
    assert export.status == "PENDING" and export.attempts == 1
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("copy-reader-")]


def test_readers_run_ahead_by_a_bounded_amount(settings, tiny_batches, monkeypatch):
    """While the job's thread is held up (a slow upload), the readers stop after the batches in
    flight (one per reader) instead of reading the whole campaign into memory."""
    monkeypatch.setattr(copy_path, "_SOLO_ROWS", 2)
    campaign = _dataset()
    user = UserFactory.create(is_superuser=True)
    settings.EXPORTS_COPY_READERS = 2
    started = threading.Event()
    release = threading.Event()
    batches = []
    real_chunks = copy_path.BatchStatement.chunks

    def counting_chunks(self, after_id, upper_id):
        batches.append(after_id)
        return real_chunks(self, after_id, upper_id)

    monkeypatch.setattr(copy_path.BatchStatement, "chunks", counting_chunks)
    real_write = PartUploader.write
    writes = []
    at_block: list[int] = []

    def slow_write(self, data):
        writes.append(len(data))
        if len(writes) == 8:  # a chunk read by the pool (the header and solo batches came first)
            at_block.append(len(batches))
            started.set()
            assert release.wait(10)
        return real_write(self, data)

    monkeypatch.setattr(PartUploader, "write", slow_write)
    export, _ = export_request(campaign_id=campaign.pk, body={"exportType": "entries"}, user=user)

    def run_and_close() -> None:
        try:
            export_run(export_id=str(export.pk))
        finally:
            connection.close()  # this thread's own connection

    runner = threading.Thread(target=run_and_close)
    runner.start()
    assert started.wait(10)
    threading.Event().wait(0.5)  # give the readers time to run ahead as far as they can
    started_while_blocked = len(batches) - at_block[0]
    release.set()
    runner.join(30)
    assert not runner.is_alive()
    assert started_while_blocked <= 1  # at most the next batch: one per reader is in flight
    assert len(batches) >= 10
    assert Export.objects.get(pk=export.pk).status == "FINISHED"


def _copied(statement: str) -> list[bytes]:
    return [bytes(row) for row in copy_path.copy_rows(statement, [])]


def test_copy_rows_reads_every_row_and_leaves_the_connection_ready():
    rows = _copied("COPY (SELECT g, repeat('x', g % 50) FROM generate_series(1, 20000) AS g) TO STDOUT")
    assert len(rows) == 20000
    assert rows[0] == b"1\tx\n" and rows[-1] == b"20000\t\n"
    with connection.cursor() as cursor:  # the COPY's final result was collected
        cursor.execute("SELECT 7")
        assert cursor.fetchone() == (7,)


def test_an_error_the_server_sends_mid_copy_is_raised_as_a_django_database_error():
    from django.db import DataError

    statement = "COPY (SELECT (1 / (g - 15000))::text FROM generate_series(1, 20000) AS g) TO STDOUT"
    rows = []
    with pytest.raises(DataError, match="division by zero"):
        for row in copy_path.copy_rows(statement, []):
            rows.append(row)
    assert 0 < len(rows) < 15000
    with connection.cursor() as cursor:
        cursor.execute("SELECT 8")
        assert cursor.fetchone() == (8,)
