"""The part uploaders: a write-only byte stream cut into numbered parts of a multipart upload.
`part_uploader` picks one: whole parts sent in the background (S3), or parts streamed as their
bytes come (a local file)."""

from __future__ import annotations

import hashlib
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from exports.storage import MultipartUpload, UploadedPart
from exportsite import tracing

# What a run knows about the bytes written up to a record boundary (rows, key of the last row).
Mark = Any


class _Parts:
    """What both uploaders share: the resumed parts, the byte count and hash, the mark of the
    next write, and the one report to the run: `on_part(part, mark)`, called in the caller's
    thread, in order, with the mark of the part's last record, so a checkpoint never claims more
    than the stored parts hold. `parts` is given when a run resumes an upload."""

    def __init__(
        self,
        upload: MultipartUpload,
        *,
        part_size: int,
        on_part: Callable[[UploadedPart, Mark], None] | None = None,
        parts: list[UploadedPart] | None = None,
    ):
        self._upload, self._part_size, self._on_part = upload, part_size, on_part
        self._parts: list[UploadedPart] = list(parts or [])
        self._next_number = len(self._parts) + 1
        self.bytes_written = sum(part.size for part in self._parts)
        self._mark: Mark = None
        self._digest = hashlib.sha256()

    def boundary(self, mark: Mark) -> None:
        """The next write ends after the record this mark describes."""
        self._mark = mark

    def flush(self) -> None:
        """File-object protocol (zipfile calls it); parts are only cut by size."""

    @property
    def sha256(self) -> str:
        """The sha256 of the bytes written through this uploader (not of resumed parts); read it
        after close()."""
        return self._digest.hexdigest()

    def _report(self, part: UploadedPart, mark: Mark) -> None:
        self._parts.append(part)
        if self._on_part is not None:
            self._on_part(part, mark)


class PartUploader(_Parts):
    """Uploads what it buffered as one part once the buffer reaches `part_size`. A part therefore
    ends where a write ended; the row loops write only whole records and call `boundary(mark)`
    before each such write, so every part ends between records, with a mark saying what it holds.

    Parts are hashed and uploaded by one background thread, in order, while the caller keeps
    reading rows (both release the GIL); at most `in_flight` parts are uploading (each is reported
    before the next may start), so memory stays bounded at about (in_flight + 1) parts.
    """

    def __init__(
        self,
        upload: MultipartUpload,
        *,
        part_size: int,
        on_part: Callable[[UploadedPart, Mark], None] | None = None,
        parts: list[UploadedPart] | None = None,
        in_flight: int = 1,
    ):
        if in_flight < 1:
            raise ValueError("in_flight must be at least 1")
        super().__init__(upload, part_size=part_size, on_part=on_part, parts=parts)
        self._buffer = bytearray()
        self._in_flight = in_flight
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="part-upload")
        self._pending: deque[tuple[Future, Mark]] = deque()

    def write(self, data: bytes | bytearray) -> int:
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

    def _submit(self, chunk: bytes | bytearray) -> None:
        # The older parts are finished and reported (checkpointed) before this one may upload, so
        # at most `in_flight` stored parts are ever beyond the run's checkpoint: a worker killed
        # at any moment leaves at most that many parts to redo.
        while len(self._pending) >= self._in_flight:
            self._finish_oldest()
        number, self._next_number = self._next_number, self._next_number + 1
        parent = tracing.current_context()  # the run's span, for the upload thread's span
        self._pending.append((self._executor.submit(self._hash_and_upload, number, chunk, parent), self._mark))

    def _hash_and_upload(self, number: int, chunk: bytes | bytearray, parent: Any = None) -> UploadedPart:
        with tracing.span("export.part_upload", parent, part=number, bytes=len(chunk)):
            self._digest.update(chunk)
            return self._upload.write_part(number, chunk)

    def _finish_oldest(self) -> None:
        future, mark = self._pending.popleft()
        self._report(future.result(), mark)  # an upload error surfaces here, in the caller's thread

    def close(self) -> list[UploadedPart]:
        """Upload the remainder as the last part (S3 needs at least one part, even if empty),
        wait for every part, and return them all (resumed ones first), ready to complete."""
        if self._buffer or not (self._parts or self._pending):
            chunk = bytes(self._buffer)
            self._buffer.clear()
            self._submit(chunk)
        while self._pending:
            self._finish_oldest()
        self._executor.shutdown()
        return list(self._parts)

    def discard(self) -> None:
        """After an error: drop queued parts and wait for the one being uploaded, so an abort
        that follows leaves nothing behind."""
        for future, _ in self._pending:
            future.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()


class StreamedPartUploader(_Parts):
    """PartUploader's stream for uploads whose parts can be written piece by piece (a local file):
    each write goes through a short queue to a writer thread, which hashes it and adds it to the
    part being written, and a part ends with the first write that brings it to `part_size`. No
    part is held in memory (two 5 MiB part buffers were most of what a long local export held
    beyond a short one), and the writes overlap with the rows as uploads do. Parts end, and are
    reported with their marks, exactly as PartUploader's."""

    # Writes waiting for the writer thread: about what writing them to the page cache takes.
    _QUEUED_WRITES = 4

    def __init__(
        self,
        upload: MultipartUpload,
        *,
        part_size: int,
        on_part: Callable[[UploadedPart, Mark], None] | None = None,
        parts: list[UploadedPart] | None = None,
    ):
        super().__init__(upload, part_size=part_size, on_part=on_part, parts=parts)
        self._part_bytes = 0
        self._queue: queue.Queue = queue.Queue(maxsize=self._QUEUED_WRITES)
        self._ended: deque[tuple[UploadedPart, Mark]] = deque()  # by the writer, in order
        self._error: BaseException | None = None
        self._stopping = False
        self._parent = tracing.current_context()  # the run's span, for each part's span
        self._thread = threading.Thread(target=self._write_parts, name="part-writer", daemon=True)
        self._thread.start()

    def write(self, data: bytes | bytearray) -> int:
        self._raise_writer_error()
        # What the caller may change once this returns is copied (a bytes object is kept as it is).
        self._queue.put(data if isinstance(data, bytes) else bytes(data))
        self.bytes_written += len(data)
        self._part_bytes += len(data)
        if self._part_bytes >= self._part_size:
            self._end_part()
        self._report_ended()
        return len(data)

    def close(self) -> list[UploadedPart]:
        """End the last part (S3 needs at least one, even if empty: so does completing here), wait
        for the writer, and return every part (resumed ones first), ready to complete."""
        if self._part_bytes or self._next_number == 1:
            self._end_part()
        self._queue.put(None)
        self._thread.join()
        self._raise_writer_error()
        self._report_ended()
        return list(self._parts)

    def discard(self) -> None:
        """After an error: the writer drops what is queued and gives its part up."""
        self._stopping = True
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _end_part(self) -> None:
        self._queue.put((self._next_number, self._mark))
        self._next_number += 1
        self._part_bytes = 0

    def _report_ended(self) -> None:
        while self._ended:
            self._report(*self._ended.popleft())

    def _raise_writer_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _write_parts(self) -> None:
        number, part, traced = self._next_number, None, None
        while (item := self._queue.get()) is not None:
            if self._stopping or self._error is not None:
                continue  # drain, so the caller never waits on a full queue
            try:
                if part is None:
                    part = self._upload.part_stream(number)
                    traced = tracing.start_span("export.part_upload", self._parent, part=number)
                if isinstance(item, tuple):
                    ended, part = part.finish(), None
                    tracing.end_span(traced, bytes=ended.size)
                    self._ended.append((ended, item[1]))
                    number += 1
                else:
                    self._digest.update(item)
                    part.write(item)
            except BaseException as error:  # noqa: BLE001 - raised in the caller's thread
                self._error = error
        if part is not None:
            part.close()
            tracing.end_span(traced, abandoned=True)


Uploader = PartUploader | StreamedPartUploader


def part_uploader(
    upload: MultipartUpload,
    *,
    part_size: int,
    on_part: Callable[[UploadedPart, Mark], None] | None = None,
    parts: list[UploadedPart] | None = None,
) -> Uploader:
    """The uploader for `upload`: streamed parts where it takes them, whole parts otherwise."""
    kind = StreamedPartUploader if upload.streams_parts else PartUploader
    return kind(upload, part_size=part_size, on_part=on_part, parts=parts)
