"""PostgreSQL fast path: rows formatted by the database and streamed with COPY … TO STDOUT.

Used for single-file delimited exports whose every column has a SQL twin (Column.sql) when
the database is PostgreSQL; everything else takes the portable path (ORM pages + csv.writer).
Both write byte-identical files. PostgreSQL sends one CopyData message per row, so Python
only moves bytes: rows are appended to a buffer that is flushed at row boundaries, never
between two rows of the same key, which keeps part checkpoints resumable like the portable
path's. The key is the file's first column (the entry id), read back only at flush time.

Rows come in keyset batches (`after < id <= boundary`) sized to about half a part, one COPY
each; heartbeats and checkpoints are written between batches, because the connection is busy
during a COPY. A crash therefore redoes at most the part that was in flight.

This module is the one place with SQL text outside the ORM: the COPY wrapper around a
query Django compiles.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager

from django.conf import settings
from django.db import connection

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


@contextmanager
def batch_planner():
    """Session planner settings for the run's batch statements, restored afterwards."""
    with connection.cursor() as cursor:
        for name, value in _BATCH_PLANNER.items():
            cursor.execute(f"SET {name} = {value}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name in _BATCH_PLANNER:
                cursor.execute(f"RESET {name}")


def copy_rows(statement: str, params: Sequence) -> Iterator[memoryview]:
    """Each item is one formatted row, line end included. psycopg locks the connection for
    the whole COPY: the caller must not query the database until the iterator is exhausted
    (the pipeline defers its heartbeats and checkpoints to the end of each batch)."""
    with connection.cursor() as cursor, cursor.cursor.copy(statement, params) as copy:
        yield from copy


def row_key(row: bytes | memoryview, delimiter: bytes) -> int:
    """The first field of a row (the key column is never quoted: it is a number)."""
    data = bytes(row[:32])
    return int(data[: data.index(delimiter)] if delimiter in data else data.strip())


def copy_rows_into(ctx, export_type, columns, sink, *, monitor: RunMonitor, spec: OutputSpec, flush_chars: int):
    """PostgreSQL fast path: formatted rows from COPY in keyset batches of about half a part;
    the buffer is flushed only between different keys, and the database work of the monitor
    (heartbeat, checkpoint) waits for the end of each batch."""
    delimiter = spec.file_format.delimiter
    separator = delimiter.encode()
    buffer = bytearray()
    template = export_type.copy_queryset(ctx, columns, after_id=_AFTER, upper_id=_UPPER)
    statement, template_params = copy_statement(template, delimiter=delimiter)
    with batch_planner():
        rows, last_key, previous_length = _copy_batches(
            ctx,
            export_type,
            sink,
            statement,
            template_params,
            monitor=monitor,
            flush_chars=flush_chars,
            separator=separator,
            buffer=buffer,
        )
    if previous_length:
        last_key = row_key(buffer[len(buffer) - previous_length :], separator)
    monitor.rows, monitor.last_key = rows, last_key
    sink.write(bytes(buffer))
    return rows, last_key


def _copy_batches(ctx, export_type, sink, statement, template_params, *, monitor, flush_chars, separator, buffer):
    rows, last_key = monitor.rows, ctx.resume_after
    after_id = ctx.resume_after or 0
    batch_rows, part_size = 200, export_settings().part_size_bytes
    previous_length = 0  # the last row is buffer[-previous_length:] (rows may not outlive the next read)
    while (boundary := export_type.copy_boundary(ctx, after_id=after_id, rows=batch_rows)) is not None:
        batch_bytes, batch_start = 0, rows
        params = [after_id if p == _AFTER else boundary if p == _UPPER else p for p in template_params]
        # closing(): an error mid-batch must end the COPY before anything else uses the connection.
        with monitor.deferred(), closing(copy_rows(statement, params)) as copied:
            for row in copied:
                if len(buffer) >= flush_chars:
                    last_key = row_key(buffer[len(buffer) - previous_length :], separator)
                    if row_key(row, separator) != last_key:
                        monitor.rows, monitor.last_key = rows, last_key
                        sink.write(bytes(buffer))
                        buffer.clear()
                buffer += row
                previous_length = len(row)
                batch_bytes += len(row)
                rows += 1
        monitor.rows = rows
        monitor.check()
        after_id = boundary
        if rows > batch_start:
            batch_rows = max(100, min(100_000, int(part_size / 2 / (batch_bytes / (rows - batch_start)))))
    return rows, last_key, previous_length
