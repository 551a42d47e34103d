"""Running one claimed export: rows → columns → writer → multipart upload → FINISHED.

Every exit path leaves storage clean: a failed, cancelled or timed-out run aborts its upload,
so no partial object is ever visible, and the job says why it ended.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from exports import states, storage
from exports.errors import ExportDeadlineExceeded, ExportFailure, ExportStopped
from exports.models import ExpiredReason, Export, FailureKind
from exports.services import pipeline
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


def _run_claimed(export: Export, export_type: ExportType) -> str:
    log_extra = {"export_id": str(export.pk), "campaign_id": export.campaign_id, "export_type": export_type.key}
    logger.info("export started", extra={**log_extra, "attempt": export.attempts})
    campaign = export.campaign
    snapshot = export_type.snapshot(campaign)
    Export.objects.filter(pk=export.pk).update(snapshot=snapshot)
    ctx = ExportContext(
        export_id=str(export.pk),
        campaign=campaign,
        parameters=export.parameters,
        snapshot=snapshot,
        page_size=export_settings().page_size,
        started_at=export.triggered_at or timezone.now(),
    )
    try:
        export_type.prepare(ctx)
        result = _write_output(ctx, export, export_type, log_extra)
    except BaseException as exc:  # noqa: BLE001 - the upload is aborted already; record why we stopped
        outcome = _record_unsuccessful_end(export, exc, log_extra)
        if not isinstance(exc, Exception) and not _is_worker_time_limit(exc):
            raise
        return outcome

    if not states.finish(
        export.pk,
        row_count=result.rows,
        bytes_written=result.bytes,
        sha256=result.sha256,
        storage_keys=result.keys,
        file_expires_at=None,
    ):
        # Cancelled or expired between the upload's completion and now: the file must not outlive it.
        for key in result.keys:
            storage.object_delete(export_type.storage_alias, key)
        logger.info("export ended elsewhere after upload; file removed", extra=log_extra)
        return "stopped"
    logger.info("export finished", extra={**log_extra, "rows": result.rows, "bytes": result.bytes})
    return "finished"


def _write_output(ctx: ExportContext, export: Export, export_type: ExportType, log_extra: dict) -> pipeline.RunResult:
    """Start the upload(s) for the type's output shape and stream into them; on any error the
    upload is aborted before the error propagates, so no partial object survives."""
    estimate = export_type.estimate(ctx)
    monitor = pipeline.RunMonitor(
        export_id=export.pk, deadline=export.deadline_at, checkpoints=export_type.output == "single"
    )
    if export_type.output == "multi":
        if not states.record_upload_started(
            export.pk, storage_alias=export_type.storage_alias, storage_key="", upload_id="", row_estimate=estimate
        ):
            raise ExportStopped()
        return pipeline.write_multi(ctx, export_type, monitor=monitor)
    key = export_type.storage_key(campaign=ctx.campaign, export_id=str(export.pk), created_at=export.created_at)
    upload = storage.multipart_upload(
        export_type.storage_alias, key=key, content_type=export_type.content_type, acl=export_type.acl
    )
    upload.start()
    try:
        if not states.record_upload_started(
            export.pk,
            storage_alias=export_type.storage_alias,
            storage_key=key,
            upload_id=upload.upload_id,
            row_estimate=estimate,
        ):
            raise ExportStopped()
        if export_type.output == "zip":
            return pipeline.write_zip(ctx, export_type, upload, monitor=monitor)
        return pipeline.write_single(ctx, export_type, upload, monitor=monitor)
    except BaseException:
        _abort_quietly(upload, log_extra)
        raise


def _abort_quietly(upload: storage.MultipartUpload | None, log_extra: dict) -> None:
    if upload is None:
        return
    try:
        upload.abort()
    except Exception:
        logger.exception("aborting the upload failed; the orphan cleaner will remove it", extra=log_extra)


def _is_worker_time_limit(exc: BaseException) -> bool:
    from dramatiq.middleware.time_limit import TimeLimitExceeded

    return isinstance(exc, TimeLimitExceeded)


def _record_unsuccessful_end(export: Export, exc: BaseException, log_extra: dict) -> str:
    """Put the job in the state that explains why it ended; returns the outcome name."""
    if isinstance(exc, ExportStopped):
        states.clear_upload(export.pk)
        logger.info("export stopped: no longer running", extra=log_extra)
        return "stopped"
    if isinstance(exc, ExportDeadlineExceeded) or _is_worker_time_limit(exc):
        states.expire(
            export.pk,
            reason=ExpiredReason.TIMEOUT,
            from_statuses=("TRIGGERED",),
            message="The export took longer than its time limit and was stopped.",
        )
        states.clear_upload(export.pk)
        logger.warning("export expired: time limit", extra=log_extra)
        return "expired"
    if isinstance(exc, ExportFailure):
        states.fail(export.pk, message=exc.message, payload=exc.payload, kind=FailureKind.DATA)
        logger.warning("export failed: data", extra={**log_extra, "reason": exc.payload})
        return "failed"
    states.fail(
        export.pk,
        message="The export failed because of an internal error. Retry it; if it fails again, "
        f"report correlation id {export.correlation_id or export.pk}.",
        payload=f"{type(exc).__name__}: {exc}"[:2000],
        kind=FailureKind.INTERNAL,
    )
    logger.error("export failed: internal error", extra=log_extra, exc_info=exc)
    return "failed"
