"""Writing an export's output: rows → cells → writer → part uploader → multipart upload.

Three shapes, chosen by the type's `output`: one delimited file (checkpointed at part
boundaries, so it can resume), one ZIP of delimited members streamed straight into the upload,
or several delimited objects (one storage key each). Memory stays bounded in all three.
"""

from __future__ import annotations

import hashlib
import time
import zipfile
from collections.abc import Iterable, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from exports import states, storage
from exports.columns import Column, header_row
from exports.errors import ExportDeadlineExceeded, ExportFailure, ExportStopped
from exports.options import OutputSpec
from exports.services import copy_path
from exports.storage import MultipartUpload, UploadedPart
from exports.types.base import ExportContext, ExportType
from exports.writers import DelimitedWriter, GzipSink, JsonLinesWriter, PartUploader
from exportsite.conf import export_settings

UTF8_BOM = b"\xef\xbb\xbf"
# How often (in rows) the row loop looks at the clock for heartbeat/cancel/deadline checks.
CHECK_EVERY_ROWS = 2000
# Text handed from the csv writer to the uploader at a time (never more than a part).
MAX_FLUSH_CHARS = 256 * 1024


def _flush_chars() -> int:
    return min(MAX_FLUSH_CHARS, export_settings().part_size_bytes)


@dataclass
class RunResult:
    rows: int
    bytes: int
    sha256: str
    keys: list[str]


class RunMonitor:
    """Heartbeat, progress and checkpoints; notices cancellation (the CAS update matches no
    row because the job left TRIGGERED) and the deadline."""

    def __init__(
        self,
        *,
        export_id,
        attempt: int,
        deadline: datetime | None,
        rows: int = 0,
        checkpoints: bool = False,
        max_rows: int = 0,
        max_bytes: int = 0,
    ):
        self.export_id = export_id
        self.attempt = attempt
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.deadline = deadline
        self.rows = rows
        self.last_key: Any = None
        self.upload: MultipartUpload | None = None
        self.uploader: PartUploader | None = None
        self.checkpoints = checkpoints
        self._interval = export_settings().progress_interval_seconds
        self._last = time.monotonic()
        self._deferred = False
        self._pending_checkpoint: dict | None = None

    def check_limits(self) -> None:
        written = self.uploader.bytes_written if self.uploader else 0
        if self.max_rows and self.rows > self.max_rows:
            raise ExportFailure(
                f"The export has more than {self.max_rows:,} rows, the limit for this type; narrow it with filters.",
                f"Row limit {self.max_rows} exceeded.",
            )
        if self.max_bytes and written > self.max_bytes:
            raise ExportFailure(
                f"The export is larger than {self.max_bytes:,} bytes, the limit for this type; "
                "narrow it with filters or columns.",
                f"Size limit {self.max_bytes} exceeded.",
            )

    @contextmanager
    def deferred(self):
        """While the connection is busy (a COPY), keep checkpoints in memory and skip the
        database; write the latest checkpoint when the block ends, also when it failed (the
        parts it names were uploaded, and a retry resumes after them)."""
        self._deferred = True
        try:
            yield
        except BaseException:
            self._deferred = False
            self._save_pending_checkpoint(quietly=True)
            raise
        self._deferred = False
        self._save_pending_checkpoint(quietly=False)

    def _save_pending_checkpoint(self, *, quietly: bool) -> None:
        checkpoint, self._pending_checkpoint = self._pending_checkpoint, None
        if checkpoint is None:
            return
        try:
            saved = states.record_checkpoint(self.export_id, attempt=self.attempt, checkpoint=checkpoint)
        except Exception:
            if not quietly:
                raise
            return
        if not saved and not quietly:
            raise ExportStopped()

    def check(self, *, force: bool = False) -> None:
        self.check_limits()
        if self._deferred:
            return
        now = time.monotonic()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        if self.deadline is not None and timezone.now() > self.deadline:
            raise ExportDeadlineExceeded()
        written = self.uploader.bytes_written if self.uploader else 0
        if not states.record_progress(
            self.export_id, attempt=self.attempt, rows_written=self.rows, bytes_written=written
        ):
            raise ExportStopped()

    def on_part(self, part: UploadedPart) -> None:
        if self.checkpoints and self.uploader is not None and self.upload is not None:
            checkpoint = {
                "key": self.upload.key,
                "upload_id": self.upload.upload_id,
                "parts": [[p.number, p.etag, p.size] for p in self.uploader.parts],
                "rows": self.rows,
                "bytes": self.uploader.bytes_written,
                "last_key": self.last_key,
            }
            if self._deferred:
                self._pending_checkpoint = checkpoint
                return
            if not states.record_checkpoint(self.export_id, attempt=self.attempt, checkpoint=checkpoint):
                raise ExportStopped()
        self.check(force=True)


def _uploader(upload: MultipartUpload, monitor: RunMonitor, parts: list[UploadedPart] | None = None) -> PartUploader:
    uploader = PartUploader(upload, part_size=export_settings().part_size_bytes, on_part=monitor.on_part, parts=parts)
    monitor.upload, monitor.uploader = upload, uploader
    return uploader


def _select_columns(columns: Sequence[Column], wanted: tuple[str, ...] | None) -> list[Column]:
    if not wanted:
        return list(columns)
    by_header = {column.header: column for column in columns}
    return [by_header[header] for header in wanted]


def _open_writer(sink, spec: OutputSpec, flush_chars: int):
    if spec.jsonl:
        return JsonLinesWriter(sink, flush_chars=flush_chars)
    if spec.excel:
        sink.write(UTF8_BOM)
        return DelimitedWriter(
            sink, delimiter=spec.file_format.delimiter, line_terminator="\r\n", flush_chars=flush_chars
        )
    return DelimitedWriter(sink, delimiter=spec.file_format.delimiter, flush_chars=flush_chars)


def write_single(
    ctx: ExportContext,
    export_type: ExportType,
    upload: MultipartUpload,
    *,
    monitor: RunMonitor,
    spec: OutputSpec,
    resumed_parts: list[UploadedPart] | None = None,
) -> RunResult:
    """One file. Parts are cut only between records of different keys, and each part records a
    checkpoint (rows, last key, parts), so a later run can continue after it."""
    uploader = _uploader(upload, monitor, resumed_parts)
    sink = GzipSink(uploader) if spec.gzip else uploader
    flush_chars = _flush_chars()
    columns = _select_columns(export_type.columns(ctx), spec.columns)
    if resumed_parts:
        writer = _open_writer(_NoBom(sink), spec, flush_chars)
    else:
        writer = _open_writer(sink, spec, flush_chars)
    writer.write_header(header_row(columns))
    if resumed_parts and not spec.jsonl:
        writer.discard_pending()  # the header is in the first part already
    if copy_path.copy_fast_path_usable(export_type=export_type, columns=columns, spec=spec):
        writer.flush()
        rows, last_key = _copy_rows(
            ctx, export_type, columns, sink, monitor=monitor, spec=spec, flush_chars=flush_chars
        )
    else:
        rows, last_key = _python_rows(ctx, export_type, columns, writer, monitor=monitor, flush_chars=flush_chars)
    monitor.rows, monitor.last_key = rows, last_key
    writer.close()
    if spec.gzip:
        sink.close()
    parts = uploader.close()
    monitor.check(force=True)
    upload.complete(parts)
    return RunResult(rows=rows, bytes=uploader.bytes_written, sha256=uploader.sha256, keys=[upload.key])


def _python_rows(ctx, export_type, columns, writer, *, monitor: RunMonitor, flush_chars: int) -> tuple[int, Any]:
    """Portable path: records from the ORM, cells formatted in Python, csv.writer."""
    values = [column.value for column in columns]
    rows, last_key = monitor.rows, ctx.resume_after
    check_at = rows + CHECK_EVERY_ROWS
    for record in export_type.records(ctx):
        key = record.key
        if key != last_key and writer.pending_chars >= flush_chars:
            monitor.rows, monitor.last_key = rows, last_key
            writer.flush()
        writer.write_row([value(record) for value in values])
        rows += 1
        last_key = key
        if rows >= check_at:
            monitor.rows = rows
            monitor.check()
            check_at = rows + CHECK_EVERY_ROWS
    return rows, last_key


def _copy_rows(ctx, export_type, columns, sink, *, monitor: RunMonitor, spec: OutputSpec, flush_chars: int):
    """PostgreSQL fast path: formatted rows from COPY in keyset batches of about half a part;
    the buffer is flushed only between different keys, and the database work of the monitor
    (heartbeat, checkpoint) waits for the end of each batch."""
    delimiter = spec.file_format.delimiter
    separator = delimiter.encode()
    buffer = bytearray()
    rows, last_key = monitor.rows, ctx.resume_after
    after_id = ctx.resume_after or 0
    batch_rows, part_size = 200, export_settings().part_size_bytes
    previous_length = 0  # the last row is buffer[-previous_length:] (rows may not outlive the next read)
    while (boundary := export_type.copy_boundary(ctx, after_id=after_id, rows=batch_rows)) is not None:
        batch_bytes, batch_start = 0, rows
        query = export_type.copy_queryset(ctx, columns, after_id=after_id, upper_id=boundary)
        # closing(): an error mid-batch must end the COPY before anything else uses the connection.
        with monitor.deferred(), closing(copy_path.copy_rows(query, delimiter=delimiter)) as copied:
            for row in copied:
                if len(buffer) >= flush_chars:
                    last_key = copy_path.row_key(buffer[len(buffer) - previous_length :], separator)
                    if copy_path.row_key(row, separator) != last_key:
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
    if previous_length:
        last_key = copy_path.row_key(buffer[len(buffer) - previous_length :], separator)
    monitor.rows, monitor.last_key = rows, last_key
    sink.write(bytes(buffer))
    return rows, last_key


class _NoBom:
    """A resumed Excel file has its BOM in part one already."""

    def __init__(self, sink):
        self._sink = sink

    def write(self, data: bytes) -> int:
        if data == UTF8_BOM:
            return len(data)
        return self._sink.write(data)


def _stream_rows(writer: DelimitedWriter, columns: Sequence[Column], records: Iterable, monitor: RunMonitor) -> None:
    values = [column.value for column in columns]
    flush_chars = _flush_chars()
    check_at = monitor.rows + CHECK_EVERY_ROWS
    for record in records:
        writer.write_row([value(record) for value in values])
        monitor.rows += 1
        if writer.pending_chars >= flush_chars:
            writer.flush()
        if monitor.rows >= check_at:
            monitor.check()
            check_at = monitor.rows + CHECK_EVERY_ROWS


def write_zip(
    ctx: ExportContext, export_type: ExportType, upload: MultipartUpload, *, monitor: RunMonitor
) -> RunResult:
    """One ZIP, members written one after another straight into the multipart upload (zipfile
    writes data descriptors on an unseekable stream, so nothing is staged on disk)."""
    uploader = _uploader(upload, monitor)
    # Members carry the job's start time, not the wall clock, so the same data gives the same bytes.
    stamp = ctx.started_at.astimezone(UTC).timetuple()[:6]
    with zipfile.ZipFile(uploader, mode="w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for output in export_type.files(ctx):
            info = zipfile.ZipInfo(output.name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, mode="w", force_zip64=True) as member:
                writer = DelimitedWriter(member, delimiter=export_type.file_format.delimiter)
                writer.write_header(header_row(output.columns))
                _stream_rows(writer, output.columns, output.records, monitor)
                writer.close()
    parts = uploader.close()
    monitor.check(force=True)
    upload.complete(parts)
    return RunResult(rows=monitor.rows, bytes=uploader.bytes_written, sha256=uploader.sha256, keys=[upload.key])


def write_multi(ctx: ExportContext, export_type: ExportType, *, monitor: RunMonitor) -> RunResult:
    """Several objects, one per file. Every file is streamed and its parts uploaded first; the
    uploads are completed together at the end, so consumers (e.g. SFMC) never see a partial
    set. On any error the uploads are aborted and nothing is left. The sha256 covers all files'
    bytes in order."""
    pending: list[tuple[MultipartUpload, list[UploadedPart]]] = []
    upload: MultipartUpload | None = None
    digest = hashlib.sha256()
    total_bytes = 0
    try:
        for output in export_type.files(ctx):
            upload = storage.multipart_upload(
                export_type.storage_alias, key=output.name, content_type=export_type.content_type, acl=export_type.acl
            )
            upload.start()
            open_uploads = [[u.key, u.upload_id] for u, _ in pending] + [[upload.key, upload.upload_id]]
            if not states.record_checkpoint(
                monitor.export_id, attempt=monitor.attempt, checkpoint={"open": open_uploads}
            ):
                raise ExportStopped()
            uploader = _uploader(upload, monitor)
            uploader.write = _hashing_write(uploader.write, digest)
            writer = DelimitedWriter(uploader, delimiter=export_type.file_format.delimiter)
            writer.write_header(header_row(output.columns))
            _stream_rows(writer, output.columns, output.records, monitor)
            writer.close()
            pending.append((upload, uploader.close()))
            total_bytes += uploader.bytes_written
            upload = None
        monitor.check(force=True)
        for finished, parts in pending:
            finished.complete(parts)
    except BaseException:
        for leftover in [u for u, _ in pending] + ([upload] if upload is not None else []):
            leftover.abort()
            storage.object_delete(export_type.storage_alias, leftover.key)
        raise
    return RunResult(rows=monitor.rows, bytes=total_bytes, sha256=digest.hexdigest(), keys=[u.key for u, _ in pending])


def _hashing_write(write, digest):
    def hashing_write(data: bytes) -> int:
        digest.update(data)
        return write(data)

    return hashing_write
