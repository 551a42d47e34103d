"""How an attempt that did not finish ends: stopped, retried later, expired or failed.

The job's new state says why, in words a campaign admin understands; the upload is aborted
unless a retry will resume it (single files keep their upload and checkpoint), so no partial
object is ever left behind.
"""

from __future__ import annotations

import logging

from exports import metrics, states, storage
from exports.errors import ExportDeadlineExceeded, ExportFailure, ExportStopped
from exports.models import ExpiredReason, Export, FailureKind
from exports.services import pipeline
from exports.services.failures import is_transient
from exports.services.notifications import export_ended
from exports.services.requesting import export_enqueue
from exports.types import EXPORT_TYPES
from exports.types.base import ExportType
from exportsite.conf import export_settings

logger = logging.getLogger(__name__)


class RunAttempt:
    """One attempt's handle on its job: the claimed attempt number fences every update."""

    def __init__(self, export: Export, export_type: ExportType):
        self.export = export
        self.export_type = export_type
        self.number = export.attempts
        self.upload: storage.MultipartUpload | None = None
        self.log = {"export_id": str(export.pk), "campaign_id": export.campaign_id, "export_type": export_type.key}


def abort_quietly(upload: storage.MultipartUpload | None, log_extra: dict) -> bool:
    """False when the abort failed: the job then keeps its upload record for the reconciler."""
    if upload is None:
        return True
    try:
        upload.abort()
    except Exception:
        logger.exception("aborting the upload failed; the reconciler will try again", extra=log_extra)
        return False
    return True


def discard_stored(export: Export) -> int:
    """Remove everything a job put in storage, whatever its status says: its open upload, the
    uploads and objects of a multi-object attempt (checkpoint), and its files. Returns how many
    objects were deleted. For jobs that will not finish (or must not keep their files)."""
    export_type = EXPORT_TYPES.get(export.export_type)
    alias = export.storage_alias or (export_type.storage_alias if export_type else "")
    if not alias:
        return 0
    if export.upload_id and export.storage_key:
        storage.multipart_upload(
            alias, key=export.storage_key, content_type="", acl="private", upload_id=export.upload_id
        ).abort()
    deleted = pipeline.discard_multi(alias, export.checkpoint or {})
    for key in dict.fromkeys([*(export.storage_keys or []), export.storage_key]):
        if key and storage.object_exists(alias, key):
            storage.object_delete(alias, key)
            deleted += 1
    return deleted


def _discard_multi_quietly(attempt: RunAttempt) -> bool:
    """write_multi removes its uploads and objects itself; this repeats it from the checkpoint,
    while this attempt still owns the job, in case that clean-up stopped half way."""
    if attempt.export_type.output != "multi":
        return True
    checkpoint = (
        Export.objects.filter(pk=attempt.export.pk, attempts=attempt.number)
        .values_list("checkpoint", flat=True)
        .first()
    )
    try:
        pipeline.discard_multi(attempt.export.storage_alias or attempt.export_type.storage_alias, checkpoint or {})
    except Exception:
        logger.exception("discarding the uploads failed; the reconciler will try again", extra=attempt.log)
        return False
    return True


def _discard_attempt_storage(attempt: RunAttempt) -> bool:
    """Abort this attempt's upload(s); True when nothing is left that the job's record names."""
    aborted = abort_quietly(attempt.upload, attempt.log)
    return _discard_multi_quietly(attempt) and aborted


def is_worker_time_limit(exc: BaseException) -> bool:
    from dramatiq.middleware.time_limit import TimeLimitExceeded

    return isinstance(exc, TimeLimitExceeded)


def end_unsuccessfully(attempt: RunAttempt, exc: BaseException) -> str:
    """Put the job in the state that explains why this attempt ended; returns the outcome name."""
    outcome = _record_end(attempt, exc)
    if outcome in ("failed", "expired"):
        export_ended(export_id=str(attempt.export.pk))
    return outcome


def _record_end(attempt: RunAttempt, exc: BaseException) -> str:
    pk, number, log = attempt.export.pk, attempt.number, attempt.log
    if isinstance(exc, ExportStopped):
        current = Export.objects.filter(pk=pk).values_list("status", "attempts").first()
        if current is None or current[0] not in ("PENDING", "TRIGGERED") or current[1] == number:
            # Cancelled or expired: nobody will resume this upload. (If another attempt took the
            # job over, the upload is its now, and must survive.)
            if _discard_attempt_storage(attempt):
                states.clear_upload(pk)
        logger.info("export stopped: no longer this worker's", extra=log)
        return "stopped"
    if is_transient(exc) and _retry_later(attempt, exc):
        return "retrying"
    # A record whose clean-up failed stays on the ended job: the reconciler's pass over ended
    # jobs with an upload tries again, then clears it.
    cleaned = _discard_attempt_storage(attempt)
    if isinstance(exc, ExportDeadlineExceeded) or is_worker_time_limit(exc):
        message = "The export took longer than its time limit and was stopped."
        if states.expire(
            pk, reason=ExpiredReason.TIMEOUT, from_statuses=("TRIGGERED",), attempt=number, message=message
        ):
            count_end(attempt, "EXPIRED")
        if cleaned:
            states.clear_upload(pk)
        logger.warning("export expired: time limit", extra=log)
        return "expired"
    if isinstance(exc, ExportFailure):
        _fail(attempt, FailureKind.DATA, exc.message, exc.payload, cleaned=cleaned)
        logger.warning("export failed: data", extra={**log, "reason": exc.payload})
        return "failed"
    if is_transient(exc):
        message = (
            f"The export failed {number} times because the database, storage or broker was unavailable. Retry it later."
        )
        _fail(attempt, FailureKind.TRANSIENT, message, type(exc).__name__, cleaned=cleaned)
        logger.error("export failed: transient errors, attempts exhausted", extra=log, exc_info=exc)
        return "failed"
    message = (
        "The export failed because of an internal error. Retry it; if it fails again, "
        f"report correlation id {attempt.export.correlation_id or pk}."
    )
    # The exception's text stays in the logs: it may quote data, and clients read the payload.
    _fail(attempt, FailureKind.INTERNAL, message, type(exc).__name__, cleaned=cleaned)
    logger.error("export failed: internal error", extra=log, exc_info=exc)
    return "failed"


def _fail(attempt: RunAttempt, kind: FailureKind, message: str, payload: str, *, cleaned: bool) -> None:
    if states.fail(attempt.export.pk, message=message, payload=payload, kind=kind, attempt=attempt.number):
        count_end(attempt, "FAILED", kind)
        if cleaned:
            states.clear_upload(attempt.export.pk)


def count_end(attempt: RunAttempt, status: str, failure_kind: str = "") -> None:
    metrics.record_job_end(attempt.export_type.key, status, metrics.seconds_since(attempt.export.triggered_at))
    if failure_kind:
        metrics.record_failure(attempt.export_type.key, failure_kind)


def _retry_later(attempt: RunAttempt, exc: BaseException) -> bool:
    """Back to PENDING with backoff, keeping a single-file upload for the next attempt to resume."""
    conf = export_settings()
    if attempt.number >= conf.max_attempts:
        return False
    if attempt.export_type.output != "single":
        abort_quietly(attempt.upload, attempt.log)
        _discard_multi_quietly(attempt)
        states.clear_upload_of_active(attempt.export.pk, attempt=attempt.number)
    if not states.requeue(
        attempt.export.pk,
        attempt=attempt.number,
        message="A temporary problem interrupted the export; it will be retried automatically.",
        payload=type(exc).__name__,
        kind=FailureKind.TRANSIENT,
    ):
        return False
    metrics.record_retry(attempt.export_type.key)
    delay = conf.retry_delay_seconds(attempt.number)
    export_enqueue(export_id=str(attempt.export.pk), export_type=attempt.export_type.key, delay_seconds=delay)
    logger.warning("export will be retried", extra={**attempt.log, "delay_seconds": delay}, exc_info=exc)
    return True
