"""PostgreSQL fast path: rows formatted by the database and streamed with COPY … TO STDOUT.

Used for single-file delimited exports whose every column has a SQL twin (Column.sql) when
the database is PostgreSQL; everything else takes the portable path (ORM pages + csv.writer).
Both write byte-identical files. PostgreSQL sends one CopyData message per row, so Python
only moves bytes: rows are grouped into chunks that end between two different keys, which
keeps part checkpoints resumable like the portable path's. The key is the file's first column
(the entry id), read back only at chunk ends.

Rows come in keyset batches (`after < id <= boundary`) of about half a part, one COPY each.
The first batches run on the job's own connection (heartbeats and checkpoints wait for the end
of each, the connection being busy), so a small export is done at once. Past `_SOLO_ROWS`, in
a worker (autocommit), `EXPORTS_COPY_READERS` reader threads run the remaining batches on
connections of their own while the job's thread writes their chunks in batch order: formatting
rows is the database's CPU work and one COPY keeps one core busy, so two readers nearly double
the speed on two cores. Each reader has at most one batch in flight, so memory stays bounded,
and the job's connection is free for heartbeats and checkpoints. Inside a transaction (one
snapshot is wanted, e.g. tests) every batch runs on the caller's connection.

This module is the one place with SQL text outside the ORM: the COPY wrapper around a
query Django compiles, and the session planner settings.
"""

from __future__ import annotations

import queue
import select
import threading
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass

import psycopg
import psycopg.errors
from django.conf import settings
from django.db import connection
from psycopg import pq

from exports.columns import Column
from exports.options import OutputSpec
from exports.services.monitor import RunMonitor
from exports.types.base import CopyQuery
from exportsite.conf import export_settings

_DELIMITERS = {"\t": "E'\\t'", ",": "','"}


def copy_fast_path_usable(*, export_type, columns: Sequence[Column], spec: OutputSpec) -> bool:
    return (
        connection.vendor == "postgresql"
        and settings.EXPORTS_COPY_FAST_PATH
        and not spec.jsonl
        and not spec.excel
        and spec.file_format.delimiter in _DELIMITERS
        and hasattr(export_type, "copy_queryset")
        and all(column.sql is not None for column in columns)
        and bool(columns)
        and columns[0].header == export_type.key_header
    )


def copy_statement(query: CopyQuery, *, delimiter: str) -> tuple[str, tuple]:
    sql, params = query.queryset.query.sql_with_params()
    if query.select:
        columns = ", ".join(connection.ops.quote_name(name) for name in query.select)
        order = ", ".join(connection.ops.quote_name(name) for name in query.order_by)
        sql = f"SELECT {columns} FROM ({sql}) AS rows ORDER BY {order}"
    return (
        f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, DELIMITER {_DELIMITERS[delimiter]}, NULL '', ENCODING 'UTF8')",
        params,
    )


# Planner settings for the batch statements. A batch is a narrow id range of one campaign: the
# cheapest plan walks the (campaign, id) index and looks each fan up by primary key, already in
# id order. Left alone, PostgreSQL picked a hash join over a scan of the whole fan table (in
# parallel workers, plus a sort) and JIT-compiled the formatting expressions, about a second
# per batch, for every batch: 1M rows ran 60x slower than 100k.
_BATCH_PLANNER = {
    "jit": "off",
    "enable_hashjoin": "off",
    "enable_mergejoin": "off",
    "max_parallel_workers_per_gather": "0",
}


# Stand-ins for the batch bounds: the statement is compiled once per run and each batch swaps
# its own bounds into the parameters (Django's compile of the big expression list is not free).
_AFTER, _UPPER = -7_000_000_000_000_000_001, -7_000_000_000_000_000_002
# The first batches are small so a small export is done at once; later ones are sized from the
# bytes per row seen so far to about one part.
_FIRST_BATCH_ROWS, _MIN_BATCH_ROWS, _MAX_BATCH_ROWS = 200, 100, 100_000
# Rows read on the job's own connection before reader threads start (a small export never
# pays for their connections).
_SOLO_ROWS = 10_000


def planner_settings_apply() -> None:
    """Set the batch planner settings on this thread's connection."""
    with connection.cursor() as cursor:
        for name, value in _BATCH_PLANNER.items():
            cursor.execute(f"SET {name} = {value}")


@contextmanager
def batch_planner():
    """The batch planner settings on the caller's connection, restored afterwards."""
    planner_settings_apply()
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name in _BATCH_PLANNER:
                cursor.execute(f"RESET {name}")


def copy_rows(statement: str, params: Sequence) -> Generator[bytes | memoryview, None, None]:
    """Each item is one formatted row, line end included. psycopg locks the connection for
    the whole COPY: nothing else may use it until the iterator is exhausted or closed.

    Rows that libpq has already received are taken straight from it (`get_copy_data` without
    waiting), which costs half of psycopg's per-row read; only when none is waiting does
    `Copy.read()` wait for the server (without holding the GIL). The end of the COPY (and an
    error the server sent instead of more rows) is then read here, since psycopg never saw it.
    Errors come out as Django's database errors, like those of any query."""
    with connection.wrap_database_errors, connection.cursor() as cursor:
        with cursor.cursor.copy(statement, params) as copy:
            pgconn = cursor.cursor.connection.pgconn
            take_ready = pgconn.get_copy_data
            while True:
                size, row = take_ready(1)
                if size == 0:  # nothing received yet: wait for the server
                    row = copy.read()
                    if not row:  # the end arrived while psycopg waited, and psycopg collected it
                        return
                elif size < 0:
                    _copy_result(pgconn, size)
                    return
                yield row


def _copy_result(pgconn, size: int) -> None:
    """After the last row: collect the COPY's final result (as psycopg's own read would) and
    raise the error the server reported instead, if any."""
    if size == -2:
        raise psycopg.OperationalError(pgconn.get_error_message().decode("utf-8", "replace"))
    results = []
    while True:
        while pgconn.is_busy():
            select.select([pgconn.socket], [], [])  # releases the GIL while it waits
            pgconn.consume_input()
        result = pgconn.get_result()
        if result is None:
            break
        results.append(result)
    failed = [result for result in results if result.status != pq.ExecStatus.COMMAND_OK]
    if failed:
        sqlstate = (failed[0].error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
        message = (failed[0].error_message or b"").decode("utf-8", "replace")
        error_class = psycopg.errors.lookup(sqlstate) if sqlstate else psycopg.DatabaseError
        raise error_class(message)


def row_key(row: bytes | bytearray | memoryview, delimiter: bytes) -> int:
    """The first field of a row (the key column is never quoted: it is a number)."""
    data = bytes(row[:32])
    return int(data[: data.index(delimiter)] if delimiter in data else data.strip())


@dataclass(frozen=True)
class Chunk:
    """Consecutive rows of one batch, ending between two different keys."""

    data: bytes
    rows: int
    last_key: int


@dataclass(frozen=True)
class BatchStatement:
    """The run's COPY statement, compiled once, and how its rows are cut into chunks."""

    sql: str
    template_params: tuple
    separator: bytes
    chunk_bytes: int

    def params(self, after_id: int, upper_id: int) -> list:
        return [after_id if p == _AFTER else upper_id if p == _UPPER else p for p in self.template_params]

    def chunks(self, after_id: int, upper_id: int) -> Iterator[Chunk]:
        """One batch's rows from COPY on this thread's connection, in chunks of about
        `chunk_bytes`."""
        separator, chunk_bytes = self.separator, self.chunk_bytes
        buffer, rows, previous_length = bytearray(), 0, 0  # the last row is buffer[-previous_length:]
        # closing(): an error or an early stop must end the COPY before anything else uses the connection.
        with closing(copy_rows(self.sql, self.params(after_id, upper_id))) as copied:
            for row in copied:
                if len(buffer) >= chunk_bytes:
                    last_key = row_key(buffer[len(buffer) - previous_length :], separator)
                    if row_key(row, separator) != last_key:
                        yield Chunk(bytes(buffer), rows, last_key)
                        buffer.clear()
                        rows = 0
                buffer += row
                previous_length = len(row)
                rows += 1
        if rows:
            yield Chunk(bytes(buffer), rows, row_key(buffer[len(buffer) - previous_length :], separator))


class BatchPlan:
    """Keyset batch bounds, each about `target_bytes` of output once the row size is known."""

    def __init__(self, ctx, export_type, *, target_bytes: int):
        self._ctx, self._export_type, self._target = ctx, export_type, target_bytes
        self._after_id = ctx.resume_after or 0
        self._rows, self._bytes = 0, 0

    def observe(self, chunk: Chunk) -> None:
        self._rows += chunk.rows
        self._bytes += len(chunk.data)

    @property
    def rows_seen(self) -> int:
        return self._rows

    def next_bounds(self) -> tuple[int, int] | None:
        rows = _FIRST_BATCH_ROWS
        if self._rows:
            rows = max(_MIN_BATCH_ROWS, min(_MAX_BATCH_ROWS, int(self._target * self._rows / self._bytes)))
        boundary = self._export_type.copy_boundary(self._ctx, after_id=self._after_id, rows=rows)
        if boundary is None:
            return None
        bounds, self._after_id = (self._after_id, boundary), boundary
        return bounds


def copy_rows_into(ctx, export_type, columns, sink, *, monitor: RunMonitor, spec: OutputSpec, flush_chars: int):
    """PostgreSQL fast path: formatted rows from COPY, batch after batch in key order, written
    to `sink` in chunks that end between keys (so every part ends between keys)."""
    delimiter = spec.file_format.delimiter
    template = export_type.copy_queryset(ctx, columns, after_id=_AFTER, upper_id=_UPPER)
    sql, template_params = copy_statement(template, delimiter=delimiter)
    statement = BatchStatement(sql, tuple(template_params), delimiter.encode(), flush_chars)
    plan = BatchPlan(ctx, export_type, target_bytes=batch_target_bytes())
    rows, last_key = monitor.rows, ctx.resume_after
    # closing(): on any error the readers stop (and the job's connection ends its COPY) at once.
    with closing(_batch_source(statement, plan, monitor=monitor, readers=copy_reader_count())) as batches:
        for batch in batches:
            with closing(batch):
                for chunk in batch:
                    rows += chunk.rows
                    last_key = chunk.last_key
                    monitor.rows, monitor.last_key = rows, last_key
                    sink.write(chunk.data)
                    plan.observe(chunk)
                    monitor.check()
    return rows, last_key


def copy_reader_count() -> int:
    """Reader threads for a run: one (the caller's own connection) inside a transaction,
    where other connections would not see the same data."""
    if connection.in_atomic_block:
        return 1
    return export_settings().copy_readers


def batch_target_bytes() -> int:
    """Output per batch: half a part, so a reader's queue (one batch) holds half a part."""
    return max(64 * 1024, export_settings().part_size_bytes // 2)


def _batch_source(statement: BatchStatement, plan: BatchPlan, *, monitor: RunMonitor, readers: int):
    """Batches in key order. The first ones run on the job's own connection, so a small export
    is done before any reader thread or connection would have started; past `_SOLO_ROWS` rows
    the reader pool takes over the rest."""
    with batch_planner():
        while (bounds := plan.next_bounds()) is not None:
            yield _deferred_batch(statement, bounds, monitor)
            if readers > 1 and plan.rows_seen >= _SOLO_ROWS:
                break
        else:
            return
    with ReaderPool(statement, readers) as pool:
        yield from pool.batches(plan)


def _deferred_batch(statement: BatchStatement, bounds: tuple[int, int], monitor: RunMonitor) -> Iterator[Chunk]:
    # The COPY holds the connection: heartbeats and checkpoints wait for the end of the batch.
    with monitor.deferred():
        yield from statement.chunks(*bounds)


_DONE = object()
_JOIN_SECONDS = 30


class _Stopped(Exception):
    """The pool is shutting down: a reader leaves its batch."""


class ReaderPool:
    """Threads that each run COPY batches on their own database connection. Batches are
    handed out in key order and their chunks come back through one bounded queue per batch,
    so at most `readers` batches are read at once and memory stays bounded."""

    def __init__(self, statement: BatchStatement, readers: int):
        self._statement = statement
        self._readers = readers
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        # A queue holds a whole batch (plus its end marker), so a reader never waits mid-batch
        # while the batch before it is written.
        self._queue_chunks = max(2, batch_target_bytes() // max(1, statement.chunk_bytes) + 2)
        self._threads = [
            threading.Thread(target=self._work, name=f"copy-reader-{index}", daemon=True) for index in range(readers)
        ]

    def __enter__(self) -> ReaderPool:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            # A reader stuck in a COPY of a hung server is left behind (a daemon thread).
            thread.join(timeout=_JOIN_SECONDS)

    def batches(self, plan: BatchPlan) -> Iterator[Iterator[Chunk]]:
        """Each batch's chunks, batch after batch in key order; `readers` batches in flight."""
        in_flight: deque[queue.Queue] = deque()
        while True:
            while len(in_flight) < self._readers and (bounds := plan.next_bounds()) is not None:
                results: queue.Queue = queue.Queue(maxsize=self._queue_chunks)
                self._jobs.put((bounds, results))
                in_flight.append(results)
            if not in_flight:
                return
            yield self._drain(in_flight.popleft())

    def _drain(self, results: queue.Queue) -> Iterator[Chunk]:
        while True:
            try:
                item = results.get(timeout=0.2)
            except queue.Empty:
                if self._failure is not None:
                    raise self._failure from None
                continue
            if item is _DONE:
                return
            yield item

    def _work(self) -> None:
        try:
            planner_settings_apply()  # no RESET needed: the connection is closed at the end
            while (job := self._jobs.get()) is not None:
                bounds, results = job
                for chunk in self._statement.chunks(*bounds):
                    self._put(results, chunk)
                self._put(results, _DONE)
        except _Stopped:
            pass
        except BaseException as error:  # noqa: BLE001 - handed to the job's thread, which raises it
            self._failure = error
        finally:
            connection.close()  # this thread's own connection

    def _put(self, results: queue.Queue, item) -> None:
        while True:
            if self._stop.is_set():
                raise _Stopped()
            try:
                results.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
