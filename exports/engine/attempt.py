"""One run: an attempt of one claimed export, and the only owner of that attempt's state.

The attempt number fences every database update (a run that lost its job changes nothing), and
the run keeps the upload, the checkpoint and the counters. The row loops tell it how far they
are (`advance`), the part uploader tells it a part is stored (`part_uploaded`, its one
callback), and the run does the rest: heartbeat, progress, checkpoints, cancellation, the
deadline and the type's limits. Nothing else writes into it. (Its worker process beats for it
too, whatever its thread is doing: liveness.py.)
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any

from django.utils import timezone

from exports import states
from exports.engine import liveness
from exports.engine.uploader import Mark
from exports.errors import ExportDeadlineExceeded, ExportFailure, ExportStopped
from exports.models import Export
from exports.storage import MultipartUpload, UploadedPart
from exports.types.base import ExportType
from exportsite.conf import export_settings

# How often (in rows) the row loops look at the clock for heartbeat/cancel/deadline checks.
CHECK_EVERY_ROWS = 2000


class Run:
    """One attempt of `export`: claimed, so `export.attempts` is this attempt's number."""

    def __init__(self, export: Export, export_type: ExportType):
        self.export = export
        self.export_type = export_type
        self.number = export.attempts
        self.log = {"export_id": str(export.pk), "campaign_id": export.campaign_id, "export_type": export_type.key}
        self.upload: MultipartUpload | None = None
        self.parts: list[UploadedPart] = []  # uploaded (or resumed) parts of `upload`, in order
        self.rows = 0
        self.last_key: Any = None
        self.uploaded_bytes = 0
        self.checkpoints = False
        self._interval = export_settings().progress_interval_seconds
        self._last_check = time.monotonic()
        self._deferred = False
        self._pending_checkpoint: dict | None = None
        self._liveness = liveness.attempt_started(export_id=export.pk, number=self.number)

    # --- set up by the run flow -----------------------------------------------------------
    def resume(self, *, upload: MultipartUpload, parts: list[UploadedPart], rows: int, last_key: Any) -> None:
        """Continue a previous attempt's upload after its last checkpointed part (only resumable
        single files resume, so the run keeps checkpointing)."""
        self.upload, self.parts, self.rows, self.last_key = upload, list(parts), rows, last_key
        self.checkpoints = True
        self.uploaded_bytes = sum(part.size for part in parts)

    def use_upload(self, upload: MultipartUpload, *, checkpoints: bool) -> None:
        self.upload, self.checkpoints = upload, checkpoints

    @property
    def resumed(self) -> bool:
        return bool(self.parts)

    def mark(self) -> Mark:
        """What the bytes written so far hold: rows and the key of the last row."""
        return self.rows, self.last_key

    # --- reports from the row loops and the uploader ---------------------------------------
    def advance(self, *, rows: int, last_key: Any = None) -> None:
        """The row loops' report: `rows` written so far (and the last key); checks now and then."""
        self.rows = rows
        if last_key is not None:
            self.last_key = last_key
        self.check()

    def part_uploaded(self, part: UploadedPart, mark: Mark) -> None:
        """The uploader's one callback: `part` is stored and ends after the record `mark` names."""
        self.parts.append(part)
        self.uploaded_bytes += part.size
        if self.checkpoints and self.upload is not None:
            rows, last_key = mark if mark is not None else self.mark()
            checkpoint = {
                "key": self.upload.key,
                "upload_id": self.upload.upload_id,
                "parts": [[p.number, p.etag, p.size] for p in self.parts],
                "rows": rows,
                "bytes": self.uploaded_bytes,
                "last_key": last_key,
            }
            if self._deferred:
                self._pending_checkpoint = checkpoint
                return
            if not states.record_checkpoint(self.export.pk, attempt=self.number, checkpoint=checkpoint):
                raise ExportStopped()
        self.check(force=True)

    def record_open_uploads(self, uploads: list[list[str]]) -> None:
        """A multi-object run's checkpoint: every upload it has started, [key, upload id] each."""
        if not states.record_checkpoint(self.export.pk, attempt=self.number, checkpoint={"open": uploads}):
            raise ExportStopped()

    # --- checks ------------------------------------------------------------------------------
    def check_limits(self) -> None:
        export_type = self.export_type
        if export_type.max_rows and self.rows > export_type.max_rows:
            raise ExportFailure(
                f"The export has more than {export_type.max_rows:,} rows, the limit for this type; "
                "narrow it with filters.",
                f"Row limit {export_type.max_rows} exceeded.",
            )
        if export_type.max_bytes and self.uploaded_bytes > export_type.max_bytes:
            raise ExportFailure(
                f"The export is larger than {export_type.max_bytes:,} bytes, the limit for this type; "
                "narrow it with filters or columns.",
                f"Size limit {export_type.max_bytes} exceeded.",
            )

    def check(self, *, force: bool = False) -> None:
        """Limits always; every progress interval (or when forced) the deadline, and a heartbeat
        that also notices a job taken away (the fenced update matches no row)."""
        self.check_limits()
        now = time.monotonic()
        if self._liveness is not None:
            self._liveness.active_at = now  # alive, even while the database waits (deferred)
        if self._deferred:
            return
        if not force and now - self._last_check < self._interval:
            return
        self._last_check = now
        deadline = self.export.deadline_at
        if deadline is not None and timezone.now() > deadline:
            raise ExportDeadlineExceeded()
        if not states.record_progress(
            self.export.pk, attempt=self.number, rows_written=self.rows, bytes_written=self.uploaded_bytes
        ):
            raise ExportStopped()

    @contextmanager
    def deferred(self):
        """While the job's connection is busy (a COPY), keep checkpoints in memory and skip the
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
            saved = states.record_checkpoint(self.export.pk, attempt=self.number, checkpoint=checkpoint)
        except Exception:
            if not quietly:
                raise
            return
        if not saved and not quietly:
            raise ExportStopped()
