"""Streaming writers: rows in, bytes out to a sink, in bounded chunks. No database access."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from exports.storage import MultipartUpload, UploadedPart


class ByteSink(Protocol):
    def write(self, data: bytes) -> int: ...


class DelimitedWriter:
    """CSV/TSV rows, flushed to the sink every `flush_chars` characters.

    Quoting is minimal: a cell is quoted when it contains the delimiter, a quote, CR or LF.
    csv.writer (C speed) does the work; it does not quote a bare CR when the line terminator is
    LF, so a flushed chunk that contains any CR (rare: only user data can) is rendered again
    row by row with the careful quoting below. Files round-trip through Python's csv module.
    """

    def __init__(self, sink: ByteSink, *, delimiter: str, line_terminator: str = "\n", flush_chars: int = 256 * 1024):
        self._sink = sink
        self._buffer = io.StringIO()
        self._writer = csv.writer(
            self._buffer, delimiter=delimiter, lineterminator=line_terminator, quoting=csv.QUOTE_MINIMAL
        )
        self._delimiter = delimiter
        self._line_terminator = line_terminator
        self._special = (delimiter, '"', "\r", "\n")
        self._flush_chars = flush_chars
        self._chunk_rows: list[list[str]] = []
        self.rows = 0

    def write_header(self, header: list[str]) -> None:
        self._writer.writerow(header)
        self._chunk_rows.append(header)

    def write_row(self, row: list[str]) -> None:
        """One row, no automatic flush: the caller flushes at boundaries it chooses."""
        self._writer.writerow(row)
        self._chunk_rows.append(row)
        self.rows += 1

    @property
    def pending_chars(self) -> int:
        return self._buffer.tell()

    def discard_pending(self) -> None:
        """Drop what is buffered (a resumed file's header, already uploaded)."""
        self._buffer.seek(0)
        self._buffer.truncate(0)
        self._chunk_rows = []

    def flush(self) -> None:
        text = self._buffer.getvalue()
        if "\r" in text and self._line_terminator == "\n":
            text = "".join(self._careful_line(row) for row in self._chunk_rows)
        if text:
            self._sink.write(text.encode("utf-8"))
        self._buffer.seek(0)
        self._buffer.truncate(0)
        self._chunk_rows = []

    def _careful_line(self, row: list[str]) -> str:
        cells = [
            '"' + cell.replace('"', '""') + '"' if any(ch in cell for ch in self._special) else cell for cell in row
        ]
        return self._delimiter.join(cells) + self._line_terminator

    def close(self) -> None:
        self.flush()


class PartUploader:
    """A write-only byte stream that uploads what it buffered as one part once the buffer
    reaches `part_size`. A part therefore ends where a write ended (a row boundary for
    DelimitedWriter), which is what makes checkpoints resumable.

    Parts are hashed and uploaded by one background thread, in order, while the caller keeps
    reading rows (both release the GIL); at most `in_flight` parts wait, so memory stays
    bounded at about (in_flight + 1) parts. `on_part(part, mark)` runs in the caller's thread,
    in order, with the `mark()` taken when that part was cut (e.g. rows and last key written),
    so a checkpoint never claims more than the uploaded parts hold. `parts` may start
    non-empty when a run resumes an upload.
    """

    def __init__(
        self,
        upload: MultipartUpload,
        *,
        part_size: int,
        on_part: Callable[[UploadedPart, Any], None] | None = None,
        parts: list[UploadedPart] | None = None,
        mark: Callable[[], object] | None = None,
        in_flight: int = 1,
    ):
        self._upload = upload
        self._part_size = part_size
        self._buffer = bytearray()
        self._on_part = on_part
        self._mark = mark or (lambda: None)
        self._in_flight = in_flight
        self._digest = hashlib.sha256()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="part-upload")
        self._pending: deque[tuple[Future, object]] = deque()
        self.parts: list[UploadedPart] = list(parts or [])
        self._next_number = len(self.parts) + 1
        self.bytes_written = sum(part.size for part in self.parts)

    def write(self, data: bytes) -> int:
        self._buffer += data
        self.bytes_written += len(data)
        if len(self._buffer) >= self._part_size:
            # The full buffer itself goes to the upload (no copy) and a new one fills; an
            # uploaded part's buffer is freed when its upload ends (its memory reused by the
            # worker's one malloc arena, exportsite.malloc), so at most two parts are held.
            chunk, self._buffer = self._buffer, bytearray()
            self._submit(chunk)
        while self._pending and self._pending[0][0].done():
            self._finish_oldest()
        return len(data)

    def flush(self) -> None:
        """File-object protocol (zipfile calls it); parts are only cut by size."""

    def _submit(self, chunk: bytes | bytearray) -> None:
        number, self._next_number = self._next_number, self._next_number + 1
        self._pending.append((self._executor.submit(self._hash_and_upload, number, chunk), self._mark()))
        while len(self._pending) > self._in_flight:
            self._finish_oldest()

    def _hash_and_upload(self, number: int, chunk: bytes | bytearray) -> UploadedPart:
        self._digest.update(chunk)
        return self._upload.write_part(number, chunk)

    def _finish_oldest(self) -> None:
        future, mark = self._pending.popleft()
        part = future.result()  # an upload error surfaces here, in the caller's thread
        self.parts.append(part)
        if self._on_part is not None:
            self._on_part(part, mark)

    def close(self) -> list[UploadedPart]:
        """Upload the remainder as the last part (S3 needs at least one part, even if empty)
        and wait for every part."""
        if self._buffer or not (self.parts or self._pending):
            chunk = bytes(self._buffer)
            self._buffer.clear()
            self._submit(chunk)
        while self._pending:
            self._finish_oldest()
        self._executor.shutdown()
        return self.parts

    def discard(self) -> None:
        """After an error: drop queued parts and wait for the one being uploaded, so an abort
        that follows leaves nothing behind."""
        for future, _ in self._pending:
            future.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()

    @property
    def uploaded_bytes(self) -> int:
        return sum(part.size for part in self.parts)

    @property
    def sha256(self) -> str:
        """The sha256 of the bytes written through this uploader (not of resumed parts); read it
        after close()."""
        return self._digest.hexdigest()


class JsonLinesWriter:
    """One JSON object per row (header names as keys), same interface as DelimitedWriter."""

    def __init__(self, sink: ByteSink, *, flush_chars: int = 256 * 1024):
        self._sink = sink
        self._parts: list[str] = []
        self._pending = 0
        self._headers: list[str] = []
        self._flush_chars = flush_chars
        self.rows = 0

    def write_header(self, header: list[str]) -> None:
        self._headers = list(header)

    def write_row(self, row: list[str]) -> None:
        line = json.dumps(dict(zip(self._headers, row, strict=True)), ensure_ascii=False) + "\n"
        self._parts.append(line)
        self._pending += len(line)
        self.rows += 1

    @property
    def pending_chars(self) -> int:
        return self._pending

    def flush(self) -> None:
        if self._parts:
            self._sink.write("".join(self._parts).encode("utf-8"))
            self._parts.clear()
            self._pending = 0

    def close(self) -> None:
        self.flush()


class GzipSink:
    """gzip-compresses everything written through it into the next sink (zlib, C speed)."""

    def __init__(self, sink: ByteSink, *, level: int = 6):
        self._sink = sink
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, 31)

    def write(self, data: bytes) -> int:
        compressed = self._compressor.compress(data)
        if compressed:
            self._sink.write(compressed)
        return len(data)

    def close(self) -> None:
        self._sink.write(self._compressor.flush())
