"""PostgreSQL fast path: rows formatted by the database and streamed with COPY … TO STDOUT.

Used for single-file delimited exports whose every column has a SQL twin (Column.sql) when
the database is PostgreSQL; everything else takes the portable path (ORM pages + csv.writer).
Both write byte-identical files. PostgreSQL sends one CopyData message per row, so Python
only moves bytes: rows are grouped into chunks that end between two different keys, which
keeps part checkpoints resumable like the portable path's. The key is the file's first column
(the entry id), read back only at chunk ends; a file that does not start with its key (codes)
is cut only at batch ends, whose key is the batch's upper bound.

Rows come in keyset batches (`after < id <= boundary`) of about half a part (1 MiB when a
batch is one chunk), one COPY each.
The first batches run on the job's own connection (heartbeats and checkpoints wait for the end
of each, the connection being busy), so a small export is done at once. Past `_SOLO_ROWS`, in
a worker (autocommit), `EXPORTS_COPY_READERS` reader threads run the remaining batches on
connections of their own while the job's thread writes their chunks in batch order: formatting
rows is the database's CPU work and one COPY keeps one core busy, so two readers nearly double
the speed on two cores. Each reader has at most one batch in flight, so memory stays bounded,
and the job's connection is free for heartbeats and checkpoints. Inside a transaction (one
snapshot is wanted, e.g. tests) every batch runs on the caller's connection.

Layout: this module decides and drives (usable?, statement, batch plan, solo then pooled
batches); `rows.py` runs one COPY and cuts its rows into chunks; `readers.py` is the reader
pool. This package is the one place with SQL text outside the ORM: the COPY wrapper around
a query Django compiles, and the session planner settings.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import closing

from django.db import connection, connections

from exports.columns import Column
from exports.engine.attempt import Run
from exports.engine.copy.readers import ReaderPool
from exports.engine.copy.rows import (
    AFTER_STAND_IN,
    UPPER_STAND_IN,
    BatchStatement,
    Chunk,
    batch_planner,
    copy_rows,
    row_key,
)
from exports.engine.uploader import Uploader
from exports.options import OutputSpec
from exports.types.base import CopyQuery, CopySource, ExportType
from exportsite import tracing
from exportsite.conf import export_settings
from exportsite.db_router import export_reads_alias

__all__ = [
    "BatchPlan",
    "BatchStatement",
    "Chunk",
    "ReaderPool",
    "copy_fast_path_usable",
    "copy_member_into",
    "copy_member_usable",
    "copy_reader_count",
    "copy_rows",
    "copy_rows_into",
    "copy_statement",
    "row_key",
]

_DELIMITERS = {"\t": "E'\\t'", ",": "','"}


def copy_fast_path_usable(*, export_type: ExportType, columns: Sequence[Column], spec: OutputSpec) -> bool:
    return (
        connection.vendor == "postgresql"
        and export_settings().copy_fast_path
        and not spec.jsonl
        and not spec.excel
        and spec.file_format.delimiter in _DELIMITERS
        and export_type.has_copy_path
        and all(column.sql is not None for column in columns)
        and bool(columns)
    )


def rows_start_with_key(export_type: ExportType, columns: Sequence[Column]) -> bool:
    """The file's first column is the record key, so chunks can end between any two keys."""
    return export_type.key_header is not None and columns[0].header == export_type.key_header


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


# The first batch is small so a small export is done at once; later ones are sized from the
# bytes per row seen so far to `batch_target_bytes()`.
_FIRST_BATCH_ROWS, _MIN_BATCH_ROWS, _MAX_BATCH_ROWS = 200, 100, 100_000
# A boundary counts the records of the campaign, kept by the type's filter or not, so a batch of
# a filtered type is asked for more records than the rows it should give: as many as the rows
# per record seen in finished batches say, up to this many (a batch walks at most this much).
_MAX_BATCH_RECORDS = 1_000_000
# Rows read on the job's own connection before reader threads start (a small export never
# pays for their connections).
_SOLO_ROWS = 10_000


class BatchPlan:
    """Keyset batch bounds, each about `target_bytes` of output once the row size (and, for a
    filtered type, the share of records it keeps) is known."""

    def __init__(self, source: CopySource, *, target_bytes: int):
        self._boundary, self._target = source.boundary, target_bytes
        self._after_id = source.after_id
        self._rows, self._bytes = 0, 0
        # Records asked for by the batches in flight (oldest first), and for the finished ones.
        self._asked: deque[int] = deque()
        self._batch_rows, self._done_asked, self._done_rows = 0, 0, 0

    def observe(self, chunk: Chunk) -> None:
        self._rows += chunk.rows
        self._bytes += len(chunk.data)
        self._batch_rows += chunk.rows

    def batch_done(self) -> None:
        """The oldest batch in flight has given all its rows."""
        self._done_asked += self._asked.popleft()
        self._done_rows += self._batch_rows
        self._batch_rows = 0

    @property
    def rows_seen(self) -> int:
        return self._rows

    def next_bounds(self) -> tuple[int, int] | None:
        rows = _FIRST_BATCH_ROWS
        if self._rows:
            rows = max(_MIN_BATCH_ROWS, min(_MAX_BATCH_ROWS, int(self._target * self._rows / self._bytes)))
        records = rows
        if self._done_asked:
            records = min(_MAX_BATCH_RECORDS, max(rows, rows * self._done_asked // max(1, self._done_rows)))
        boundary = self._boundary(self._after_id, records)
        if boundary is None:
            return None
        bounds, self._after_id = (self._after_id, boundary), boundary
        self._asked.append(records)
        return bounds


def _observed(batch: Iterator[Chunk], plan: BatchPlan) -> Iterator[Chunk]:
    """A batch's chunks, each counted by the plan, and its end reported to it (and traced)."""
    started, rows = tracing.start_span("export.copy_batch"), 0
    try:
        for chunk in batch:
            plan.observe(chunk)
            rows += chunk.rows
            yield chunk
        plan.batch_done()
    finally:
        tracing.end_span(started, rows=rows)
        close = getattr(batch, "close", None)  # closed at once when the caller stops early: it may hold a COPY
        if close is not None:
            close()


def type_copy_source(ctx, export_type: ExportType, columns: Sequence[Column]) -> CopySource:
    """A single-file type's rows (its copy_queryset and copy_boundary), after the resume point."""
    return CopySource(
        cells=lambda after_id, upper_id: _cells(export_type, ctx, columns, after_id, upper_id),
        boundary=lambda after_id, rows: export_type.copy_boundary(ctx, after_id=after_id, rows=rows),
        after_id=ctx.resume_after or 0,
    )


def _cells(export_type: ExportType, ctx, columns, after_id: int, upper_id: int) -> CopyQuery:
    query = export_type.copy_queryset(ctx, columns, after_id=after_id, upper_id=upper_id)
    assert query is not None  # has_copy_path
    return query


def _statement(source: CopySource, *, delimiter: str, flush_chars: int, keyed: bool) -> BatchStatement:
    """The run's statement, read from where the run reads (a replica once it caught up)."""
    sql, params = copy_statement(source.cells(AFTER_STAND_IN, UPPER_STAND_IN), delimiter=delimiter)
    return BatchStatement(sql, tuple(params), delimiter.encode(), flush_chars, keyed=keyed, using=export_reads_alias())


def copy_rows_into(
    ctx, run: Run, columns, sink, *, uploader: Uploader, spec: OutputSpec, flush_chars: int
) -> tuple[int, object]:
    """PostgreSQL fast path: formatted rows from COPY, batch after batch in key order, written
    to `sink` in chunks that end between keys (so every part ends between keys)."""
    export_type = run.export_type
    source = type_copy_source(ctx, export_type, columns)
    keyed = rows_start_with_key(export_type, columns)
    statement = _statement(source, delimiter=spec.file_format.delimiter, flush_chars=flush_chars, keyed=keyed)
    plan = BatchPlan(source, target_bytes=batch_target_bytes(keyed=keyed))
    rows, last_key = run.rows, ctx.resume_after
    # closing(): on any error the readers stop (and the job's connection ends its COPY) at once.
    with closing(_batch_source(statement, plan, run=run, readers=copy_reader_count())) as batches:
        for batch in batches:
            with closing(batch):
                for chunk in batch:
                    rows += chunk.rows
                    last_key = chunk.last_key
                    uploader.boundary((rows, last_key))
                    sink.write(chunk.data)
                    run.advance(rows=rows, last_key=last_key)
    return rows, last_key


def copy_member_usable(columns: Sequence[Column], source: CopySource | None, *, delimiter: str) -> bool:
    """One file of a ZIP or multi-object export can be written by the fast path."""
    return (
        source is not None
        and connection.vendor == "postgresql"
        and export_settings().copy_fast_path
        and delimiter in _DELIMITERS
        and bool(columns)
        and all(column.sql is not None for column in columns)
    )


def copy_member_into(run: Run, source: CopySource, sink, *, delimiter: str, flush_chars: int) -> int:
    """One member's rows from COPY (ZIP and multi-object exports: not resumable, so cut only at
    batch ends), written to `sink`; returns the run's row count after them."""
    statement = _statement(source, delimiter=delimiter, flush_chars=flush_chars, keyed=False)
    plan = BatchPlan(source, target_bytes=batch_target_bytes(keyed=False))
    rows = run.rows
    with closing(_batch_source(statement, plan, run=run, readers=copy_reader_count())) as batches:
        for batch in batches:
            with closing(batch):
                for chunk in batch:
                    rows += chunk.rows
                    sink.write(chunk.data)
                    run.advance(rows=rows)
    return rows


def copy_reader_count() -> int:
    """Reader threads for a run: one (the caller's own connection) inside a transaction,
    where other connections would not see the same data."""
    if connections[export_reads_alias()].in_atomic_block:
        return 1
    return export_settings().copy_readers


# A batch whose rows do not start with their key is one chunk, held whole while it waits in its
# reader's queue: with two readers and the batch being written, about three are held at once, so
# their size sets most of what a long export holds beyond a short one (three half parts were
# 7.5 MB; three of these, 3 MB). Keyed batches stream in small chunks and stay at half a part:
# each COPY is planned again, and batches of 1 MiB made a 1M-row entries export 20 % slower.
_UNKEYED_BATCH_BYTES = 1024 * 1024


def batch_target_bytes(*, keyed: bool) -> int:
    """Output per batch: half a part; at most 1 MiB when the batch is one chunk."""
    half_a_part = max(64 * 1024, export_settings().part_size_bytes // 2)
    return half_a_part if keyed else min(_UNKEYED_BATCH_BYTES, half_a_part)


def _batch_source(statement: BatchStatement, plan: BatchPlan, *, run: Run, readers: int):
    """Batches in key order. The first ones run on the job's own connection, so a small export
    is done before any reader thread or connection would have started; past `_SOLO_ROWS` rows
    the reader pool takes over the rest."""
    with batch_planner(statement.using):
        while (bounds := plan.next_bounds()) is not None:
            yield _observed(_deferred_batch(statement, bounds, run), plan)
            if readers > 1 and plan.rows_seen >= _SOLO_ROWS:
                break
        else:
            return
    # A reader's queue holds a whole batch (plus its end marker), so a reader never waits
    # mid-batch while the batch before it is written.
    queue_chunks = max(2, batch_target_bytes(keyed=statement.keyed) // max(1, statement.chunk_bytes) + 2)
    with ReaderPool(statement, readers, queue_chunks=queue_chunks) as pool:
        for batch in pool.batches(plan):
            yield _observed(batch, plan)


def _deferred_batch(statement: BatchStatement, bounds: tuple[int, int], run: Run) -> Iterator[Chunk]:
    # The COPY holds the connection: heartbeats and checkpoints wait for the end of the batch.
    with run.deferred():
        yield from statement.chunks(*bounds)
