"""Running one claimed export: rows → columns → writer → multipart upload → FINISHED.

Every exit path leaves storage clean or resumable: a failed, cancelled or timed-out run aborts
its upload, so no partial object is ever visible; a transient error (database, S3, broker)
keeps a single-file upload and its checkpoint and sends the job back to PENDING with backoff,
and the next attempt continues after the last uploaded part. How an unfinished attempt ends
(stopped, retried, expired, failed) is outcomes.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from exports import metrics, states, storage
from exports.errors import ExportFailure, ExportStopped
from exports.models import Export
from exports.options import output_spec
from exports.services import pipeline
from exports.services.monitor import RunMonitor
from exports.services.notifications import export_ended
from exports.services.outcomes import RunAttempt, abort_quietly, end_unsuccessfully, is_worker_time_limit
from exports.storage import UploadedPart
from exports.types import EXPORT_TYPES
from exports.types.base import ExportContext, ExportType
from exportsite.conf import export_settings
from exportsite.logging import correlation_id_var

logger = logging.getLogger(__name__)


def export_time_limit(export_type: ExportType) -> timedelta:
    return timedelta(seconds=export_type.time_limit_seconds or export_settings().default_time_limit_seconds)


def export_run(*, export_id: str) -> str:
    """Claim and run one export; a no-op for jobs that are no longer PENDING. Returns the outcome."""
    export = Export.objects.select_related("campaign").filter(pk=export_id).first()
    if export is None:
        logger.warning("export message for unknown job ignored", extra={"export_id": export_id})
        return "missing"
    export_type = EXPORT_TYPES.get(export.export_type)
    if export_type is None:
        logger.error("export of unregistered type ignored", extra={"export_id": export_id})
        return "unknown-type"
    if not states.claim(export.pk, time_limit=export_time_limit(export_type)):
        logger.info("export not pending; message skipped", extra={"export_id": export_id, "status": export.status})
        return "skipped"
    export.refresh_from_db()
    token = correlation_id_var.set(export.correlation_id)
    try:
        return _run_claimed(export, export_type)
    finally:
        correlation_id_var.reset(token)


@dataclass
class _Resume:
    """Where a previous attempt of a single-file export stopped."""

    upload: storage.MultipartUpload
    parts: list[UploadedPart]
    rows: int
    last_key: object


def _run_claimed(export: Export, export_type: ExportType) -> str:
    attempt = RunAttempt(export, export_type)
    try:
        resume = _resume_point(attempt)
        logger.info("export started", extra={**attempt.log, "attempt": attempt.number, "resumed": resume is not None})
        ctx = _context(export, export_type, resume)
        export_type.prepare(ctx)
        result = _write_output(ctx, attempt, resume)
    except BaseException as exc:  # noqa: BLE001 - every way out is recorded on the job
        outcome = end_unsuccessfully(attempt, exc)
        if not isinstance(exc, Exception) and not is_worker_time_limit(exc):
            raise
        return outcome
    return _finish(attempt, result)


def _context(export: Export, export_type: ExportType, resume: _Resume | None) -> ExportContext:
    """The job's snapshot is fixed by its first attempt and kept by every retry, so a retried
    or resumed run reads the same rows and names its files with the same start time."""
    snapshot = export.snapshot or {**export_type.snapshot(export.campaign), "started_at": timezone.now().isoformat()}
    if not export.snapshot:
        Export.objects.filter(pk=export.pk).update(snapshot=snapshot)
    started_at = datetime.fromisoformat(snapshot["started_at"]) if "started_at" in snapshot else timezone.now()
    return ExportContext(
        export_id=str(export.pk),
        campaign=export.campaign,
        parameters=export.parameters,
        snapshot=snapshot,
        page_size=export_settings().page_size,
        started_at=started_at,
        resume_after=resume.last_key if resume else None,
    )


def _resume_point(attempt: RunAttempt) -> _Resume | None:
    """The previous attempt's upload and checkpoint, if this run can continue it; otherwise any
    leftover upload is aborted and the run starts over."""
    export, checkpoint = attempt.export, attempt.export.checkpoint or {}
    if attempt.export_type.output == "multi":
        _discard_multi_leftovers(attempt, checkpoint)
        return None
    if not export.upload_id:
        return None
    upload = storage.multipart_upload(
        export.storage_alias or attempt.export_type.storage_alias,
        key=export.storage_key,
        content_type=attempt.export_type.content_type,
        acl=attempt.export_type.acl,
        upload_id=export.upload_id,
    )
    usable = (
        attempt.export_type.output == "single"
        and output_spec(attempt.export_type, export.parameters).resumable
        and checkpoint.get("upload_id") == export.upload_id
        and checkpoint.get("parts")
        and upload.is_open()
    )
    if not usable:
        abort_quietly(upload, attempt.log)
        states.clear_upload_of_active(export.pk, attempt=attempt.number)
        return None
    parts = [UploadedPart(number=n, etag=etag, size=size) for n, etag, size in checkpoint["parts"]]
    logger.info("export resumes", extra={**attempt.log, "next_part": len(parts) + 1, "rows": checkpoint["rows"]})
    return _Resume(upload=upload, parts=parts, rows=checkpoint["rows"], last_key=checkpoint["last_key"])


def _discard_multi_leftovers(attempt: RunAttempt, checkpoint: dict) -> None:
    """A multi-file run starts over: remove what an interrupted attempt left (its finished
    objects and its open upload), so consumers never see a partial or doubled set."""
    pipeline.discard_multi(attempt.export.storage_alias or attempt.export_type.storage_alias, checkpoint)
    if checkpoint:
        states.clear_upload_of_active(attempt.export.pk, attempt=attempt.number)


def _write_output(ctx: ExportContext, attempt: RunAttempt, resume: _Resume | None) -> pipeline.RunResult:
    """Start (or continue) the upload(s) for the type's output shape and stream into them."""
    export, export_type = attempt.export, attempt.export_type
    estimate = export_type.estimate(ctx)  # all rows of the snapshot, resumed or not
    spec = output_spec(export_type, export.parameters) if export_type.output == "single" else None
    monitor = RunMonitor(
        export_id=export.pk,
        attempt=attempt.number,
        deadline=export.deadline_at,
        rows=resume.rows if resume else 0,
        checkpoints=spec is not None and spec.resumable,
        max_rows=export_type.max_rows,
        max_bytes=export_type.max_bytes,
    )
    if estimate > export_type.max_rows:
        raise ExportFailure(
            f"The export would have about {estimate:,} rows, over the limit of {export_type.max_rows:,} "
            "rows for this type; narrow it with filters.",
            f"Row limit {export_type.max_rows} exceeded by the estimate.",
        )
    if export_type.output == "multi":
        _record_upload_started(attempt, key="", upload_id="", estimate=estimate)
        return pipeline.write_multi(ctx, export_type, monitor=monitor)
    if resume:
        attempt.upload = resume.upload
    else:
        key = export_type.storage_key(
            campaign=ctx.campaign,
            export_id=str(export.pk),
            created_at=export.created_at,
            extension=spec.extension if spec else None,
        )
        attempt.upload = storage.multipart_upload(
            export_type.storage_alias,
            key=key,
            content_type=spec.content_type if spec else export_type.content_type,
            acl=export_type.acl,
        )
        attempt.upload.start()
    _record_upload_started(attempt, key=attempt.upload.key, upload_id=attempt.upload.upload_id, estimate=estimate)
    if export_type.output == "zip":
        return pipeline.write_zip(ctx, export_type, attempt.upload, monitor=monitor)
    assert spec is not None  # output_spec() above: every "single" output has one
    result = pipeline.write_single(
        ctx, export_type, attempt.upload, monitor=monitor, spec=spec, resumed_parts=resume.parts if resume else None
    )
    if resume:
        # The uploader hashed only this attempt's bytes; hash the finished object once instead.
        result.sha256 = storage.object_sha256(export_type.storage_alias, attempt.upload.key)
    return result


def _record_upload_started(attempt: RunAttempt, *, key: str, upload_id: str, estimate: int) -> None:
    if not states.record_upload_started(
        attempt.export.pk,
        attempt=attempt.number,
        storage_alias=attempt.export_type.storage_alias,
        storage_key=key,
        upload_id=upload_id,
        row_estimate=estimate,
    ):
        raise ExportStopped()


def _finish(attempt: RunAttempt, result: pipeline.RunResult) -> str:
    conf = export_settings()
    expires_at = timezone.now() + timedelta(days=conf.retention_days_for(attempt.export_type.key))
    if not states.finish(
        attempt.export.pk,
        attempt=attempt.number,
        row_count=result.rows,
        bytes_written=result.bytes,
        sha256=result.sha256,
        storage_keys=result.keys,
        file_expires_at=expires_at,
    ):
        # Cancelled or expired between the upload's completion and now: the file must not outlive it.
        for key in result.keys:
            storage.object_delete(attempt.export_type.storage_alias, key)
        logger.info("export ended elsewhere after upload; file removed", extra=attempt.log)
        return "stopped"
    logger.info("export finished", extra={**attempt.log, "rows": result.rows, "bytes": result.bytes})
    metrics.record_job_end(
        attempt.export_type.key,
        "FINISHED",
        metrics.seconds_since(attempt.export.triggered_at),
        rows=result.rows,
        bytes=result.bytes,
    )
    export_ended(export_id=str(attempt.export.pk))
    return "finished"
