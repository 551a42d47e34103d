"""Writing an export's output: rows → cells → writer → part uploader → multipart upload.

Three shapes (OutputShape): one delimited file (checkpointed at part boundaries, so it can
resume), one ZIP of delimited members streamed straight into the upload, or several delimited
objects (one storage key each). Memory stays bounded in all three.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from exports import storage
from exports.columns import Column, header_row
from exports.engine import copy
from exports.engine.attempt import CHECK_EVERY_ROWS, Run
from exports.engine.uploader import Uploader, part_uploader
from exports.options import OutputSpec
from exports.storage import MultipartUpload
from exports.types.base import ExportContext, OutputFile
from exports.writers import DelimitedWriter, GzipSink, JsonLinesWriter
from exportsite.conf import export_settings

UTF8_BOM = b"\xef\xbb\xbf"
# Text handed from the csv writer to the uploader at a time (never more than a part).
MAX_FLUSH_CHARS = 256 * 1024


def _flush_chars() -> int:
    return min(MAX_FLUSH_CHARS, export_settings().part_size_bytes)


@dataclass(frozen=True)
class RunResult:
    """What a finished write produced (the run's counters are the live view)."""

    rows: int
    bytes: int
    sha256: str
    keys: list[str]


@contextmanager
def _uploading(upload: MultipartUpload, run: Run, *, resumed: bool = False):
    """The uploader for `upload` reporting to `run`; on any error its background part uploads
    are stopped and waited for, so the caller's abort leaves nothing behind."""
    uploader = part_uploader(
        upload,
        part_size=export_settings().part_size_bytes,
        on_part=run.part_uploaded,
        parts=run.parts if resumed else None,
    )
    try:
        yield uploader
    except BaseException:
        uploader.discard()
        raise


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


def write_single(ctx: ExportContext, run: Run, *, spec: OutputSpec) -> RunResult:
    """One file. Parts are cut only between records of different keys, and each part records a
    checkpoint (rows, last key, parts), so a later run can continue after it."""
    upload, export_type, resumed = run.upload, run.export_type, run.resumed
    assert upload is not None  # the run flow starts (or resumes) the upload first
    with _uploading(upload, run, resumed=resumed) as uploader:
        sink = GzipSink(uploader) if spec.gzip else uploader
        flush_chars = _flush_chars()
        columns = _select_columns(export_type.columns(ctx), spec.columns)
        writer = _open_writer(_NoBom(sink) if resumed else sink, spec, flush_chars)
        writer.write_header(header_row(columns))
        if resumed and not spec.jsonl:
            writer.discard_pending()  # the header is in the first part already
        if copy.copy_fast_path_usable(export_type=export_type, columns=columns, spec=spec):
            writer.flush()
            rows, last_key = copy.copy_rows_into(
                ctx, run, columns, sink, uploader=uploader, spec=spec, flush_chars=flush_chars
            )
        else:
            rows, last_key = _python_rows(ctx, run, columns, writer, uploader=uploader, flush_chars=flush_chars)
        uploader.boundary((rows, last_key))
        writer.close()
        if spec.gzip:
            sink.close()
        parts = uploader.close()
    run.advance(rows=rows, last_key=last_key)
    run.check(force=True)
    upload.complete(parts)
    return RunResult(rows=rows, bytes=uploader.bytes_written, sha256=uploader.sha256, keys=[upload.key])


def _python_rows(ctx, run: Run, columns, writer, *, uploader: Uploader, flush_chars: int) -> tuple[int, Any]:
    """Portable path: records from the ORM, cells formatted in Python, csv.writer."""
    values = [column.value for column in columns]
    rows, last_key = run.rows, ctx.resume_after
    check_at = rows + CHECK_EVERY_ROWS
    for record in run.export_type.records(ctx):
        key = record.key
        if key != last_key and writer.pending_chars >= flush_chars:
            uploader.boundary((rows, last_key))
            writer.flush()
        writer.write_row([value(record) for value in values])
        rows += 1
        last_key = key
        if rows >= check_at:
            run.advance(rows=rows)
            check_at = rows + CHECK_EVERY_ROWS
    return rows, last_key


class _NoBom:
    """A resumed Excel file has its BOM in part one already."""

    def __init__(self, sink):
        self._sink = sink

    def write(self, data: bytes) -> int:
        if data == UTF8_BOM:
            return len(data)
        return self._sink.write(data)


def _stream_rows(writer: DelimitedWriter, columns: Sequence[Column], records: Iterable, run: Run) -> None:
    values = [column.value for column in columns]
    flush_chars = _flush_chars()
    rows = run.rows
    check_at = rows + CHECK_EVERY_ROWS
    for record in records:
        writer.write_row([value(record) for value in values])
        rows += 1
        if writer.pending_chars >= flush_chars:
            writer.flush()
        if rows >= check_at:
            run.advance(rows=rows)
            check_at = rows + CHECK_EVERY_ROWS
    run.advance(rows=rows)


def _write_member(sink, output: OutputFile, run: Run, *, delimiter: str) -> None:
    """One file of a ZIP or multi-object export: its header, then its rows from the fast path
    when it can write them, else from the type's records."""
    writer = DelimitedWriter(sink, delimiter=delimiter)
    writer.write_header(header_row(output.columns))
    if output.copy is not None and copy.copy_member_usable(output.columns, output.copy, delimiter=delimiter):
        writer.flush()
        rows = copy.copy_member_into(run, output.copy, sink, delimiter=delimiter, flush_chars=_flush_chars())
        run.advance(rows=rows)
    else:
        _stream_rows(writer, output.columns, output.records, run)
    writer.close()


def write_zip(ctx: ExportContext, run: Run) -> RunResult:
    """One ZIP, members written one after another straight into the multipart upload (zipfile
    writes data descriptors on an unseekable stream, so nothing is staged on disk)."""
    upload, export_type = run.upload, run.export_type
    assert upload is not None
    with _uploading(upload, run) as uploader:
        # Members carry the job's start time, not the wall clock, so the same data gives the same bytes.
        stamp = ctx.started_at.astimezone(UTC).timetuple()[:6]
        level = export_settings().zip_level
        with zipfile.ZipFile(uploader, mode="w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
            for output in export_type.files(ctx):
                info = zipfile.ZipInfo(output.name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                # The archive's level applies only to members opened by name; a ZipInfo carries
                # its own (`_compresslevel` on 3.11 and 3.12, an alias of `compress_level` since 3.13).
                info._compresslevel = level  # type: ignore[attr-defined]
                with archive.open(info, mode="w", force_zip64=True) as member:
                    _write_member(member, output, run, delimiter=export_type.file_format.delimiter)
        parts = uploader.close()
    run.check(force=True)
    upload.complete(parts)
    return RunResult(rows=run.rows, bytes=uploader.bytes_written, sha256=uploader.sha256, keys=[upload.key])


def write_multi(ctx: ExportContext, run: Run) -> RunResult:
    """Several objects, one per file. Every file is streamed and its parts uploaded first; the
    uploads are completed together at the end, so consumers (e.g. SFMC) never see a partial
    set. On any error the uploads are aborted and nothing is left. The sha256 covers all files'
    bytes in order."""
    export_type = run.export_type
    pending: list[tuple[MultipartUpload, list]] = []
    upload: MultipartUpload | None = None
    digest = hashlib.sha256()
    total_bytes = 0
    try:
        for output in export_type.files(ctx):
            upload = storage.multipart_upload(
                export_type.storage_alias, key=output.name, content_type=export_type.content_type, acl=export_type.acl
            )
            opened = [[u.key, u.upload_id] for u, _ in pending]
            run.record_open_uploads([*opened, [upload.key, ""]])  # announced: see run._write_output
            upload.start()
            run.record_open_uploads([*opened, [upload.key, upload.upload_id]])
            with _uploading(upload, run) as uploader:
                _write_member(_HashingSink(uploader, digest), output, run, delimiter=export_type.file_format.delimiter)
                pending.append((upload, uploader.close()))
                total_bytes += uploader.bytes_written
            upload = None
        run.check(force=True)
        for finished, parts in pending:
            finished.complete(parts)
    except BaseException:
        leftovers = [u for u, _ in pending] + ([upload] if upload is not None else [])
        # One failed clean-up step must not stop the others: the checkpoint keeps them recorded.
        for leftover in leftovers:
            try:
                leftover.abort()
                storage.object_delete(export_type.storage_alias, leftover.key)
            except Exception:  # noqa: BLE001 - the original error is the one to raise
                continue
        raise
    return RunResult(rows=run.rows, bytes=total_bytes, sha256=digest.hexdigest(), keys=[u.key for u, _ in pending])


class _HashingSink:
    """Hashes what passes into the uploader (a multi-object run hashes all files together)."""

    def __init__(self, sink: Uploader, digest):
        self._sink, self._digest = sink, digest

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        return self._sink.write(data)
