"""The fast path's COPY statements: planner settings, reading rows straight from libpq, and
cutting a batch's rows into chunks that end between keys.

The one place, with the package's __init__, that holds SQL text outside the ORM."""

from __future__ import annotations

import select
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass

import psycopg
import psycopg.errors
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import pq

# Planner settings for the batch statements. A batch is a narrow id range of one campaign: the
# cheapest plan walks the (campaign, id) index and looks each fan up by primary key, already in
# id order. Left alone, PostgreSQL picked a hash join over a scan of the whole fan table (in
# parallel workers, plus a sort) and JIT-compiled the formatting expressions, about a second
# per batch, for every batch: 1M rows ran 60x slower than 100k.
BATCH_PLANNER = {
    "jit": "off",
    "enable_hashjoin": "off",
    "enable_mergejoin": "off",
    "max_parallel_workers_per_gather": "0",
}

# Stand-ins for the batch bounds: the statement is compiled once per run and each batch swaps
# its own bounds into the parameters (Django's compile of the big expression list is not free).
AFTER_STAND_IN, UPPER_STAND_IN = -7_000_000_000_000_000_001, -7_000_000_000_000_000_002


def planner_settings_apply(using: str = DEFAULT_DB_ALIAS) -> None:
    """Set the batch planner settings on this thread's connection to `using`."""
    with connections[using].cursor() as cursor:  # one round trip: a small export pays for every statement
        cursor.execute("; ".join(f"SET {name} = {value}" for name, value in BATCH_PLANNER.items()))


@contextmanager
def batch_planner(using: str = DEFAULT_DB_ALIAS):
    """The batch planner settings on the caller's connection to `using`, restored afterwards."""
    planner_settings_apply(using)
    try:
        yield
    finally:
        with connections[using].cursor() as cursor:
            cursor.execute("; ".join(f"RESET {name}" for name in BATCH_PLANNER))


def copy_rows(
    statement: str, params: Sequence, using: str = DEFAULT_DB_ALIAS
) -> Generator[bytes | memoryview, None, None]:
    """Each item is one formatted row, line end included. psycopg locks the connection for
    the whole COPY: nothing else may use it until the iterator is exhausted or closed.

    Rows that libpq has already received are taken straight from it (`get_copy_data` without
    waiting), which costs half of psycopg's per-row read; only when none is waiting does
    `Copy.read()` wait for the server (without holding the GIL). The end of the COPY (and an
    error the server sent instead of more rows) is then read here, since psycopg never saw it.
    Errors come out as Django's database errors, like those of any query."""
    connection = connections[using]
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

    data: bytes | bytearray
    rows: int
    last_key: int


@dataclass(frozen=True)
class BatchStatement:
    """The run's COPY statement, compiled once, and how its rows are cut into chunks: every
    `chunk_bytes` between two keys when the rows start with their key (`keyed`), otherwise
    one chunk per batch, which ends between keys by construction."""

    sql: str
    template_params: tuple
    separator: bytes
    chunk_bytes: int
    keyed: bool = True
    using: str = DEFAULT_DB_ALIAS  # the database the rows are read from (a replica, or the primary)

    def params(self, after_id: int, upper_id: int) -> list:
        return [
            after_id if p == AFTER_STAND_IN else upper_id if p == UPPER_STAND_IN else p for p in self.template_params
        ]

    def chunks(self, after_id: int, upper_id: int) -> Iterator[Chunk]:
        """One batch's rows from COPY on this thread's connection, in chunks of about
        `chunk_bytes` (keyed), or as one chunk."""
        if not self.keyed:
            yield from self._whole_batch(after_id, upper_id)
            return
        separator, chunk_bytes = self.separator, self.chunk_bytes
        buffer, rows, previous_length = bytearray(), 0, 0  # the last row is buffer[-previous_length:]
        # closing(): an error or an early stop must end the COPY before anything else uses the connection.
        with closing(copy_rows(self.sql, self.params(after_id, upper_id), self.using)) as copied:
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

    def _whole_batch(self, after_id: int, upper_id: int) -> Iterator[Chunk]:
        """A batch whose rows do not show their key: its last key is its upper bound (the
        rows after the last one up to that bound do not match), and it is about 1 MiB."""
        buffer, rows = bytearray(), 0
        with closing(copy_rows(self.sql, self.params(after_id, upper_id), self.using)) as copied:
            for row in copied:
                buffer += row
                rows += 1
        if rows:
            yield Chunk(buffer, rows, upper_id)
