"""The run monitor: heartbeat, progress, checkpoints, cancellation, deadline and limits."""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.utils import timezone

from exports import states
from exports.errors import ExportDeadlineExceeded, ExportFailure, ExportStopped
from exports.storage import MultipartUpload, UploadedPart
from exports.writers import PartUploader
from exportsite.conf import export_settings

# How often (in rows) the row loops look at the clock for heartbeat/cancel/deadline checks.
CHECK_EVERY_ROWS = 2000


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

    def mark(self) -> tuple[int, Any]:
        """What has been written when a part is cut: (rows, key of the last row)."""
        return self.rows, self.last_key

    def on_part(self, part: UploadedPart, mark: tuple[int, Any] | None = None) -> None:
        if self.checkpoints and self.uploader is not None and self.upload is not None:
            rows, last_key = mark if mark is not None else self.mark()
            checkpoint = {
                "key": self.upload.key,
                "upload_id": self.upload.upload_id,
                "parts": [[p.number, p.etag, p.size] for p in self.uploader.parts],
                "rows": rows,
                "bytes": self.uploader.uploaded_bytes,
                "last_key": last_key,
            }
            if self._deferred:
                self._pending_checkpoint = checkpoint
                return
            if not states.record_checkpoint(self.export_id, attempt=self.attempt, checkpoint=checkpoint):
                raise ExportStopped()
        self.check(force=True)
