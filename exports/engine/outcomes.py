"""How a run that did not finish ends: stopped, retried later, expired or failed.

The job's new state says why, in words a campaign admin understands; the upload is aborted
unless a retry will resume it (single files keep their upload and checkpoint), so no partial
object is ever left behind. A clean-up that fails leaves the job's storage record in place,
and the reconciler's pass over ended jobs tries again.

A run cut off by a database outage first waits for the database (exports/db_retry.py), then
records its end at once and is retried without backoff: the outage is over, and the job must
not sit TRIGGERED until the reconciler finds it, nor wait out a backoff meant for flaky storage.
"""

from __future__ import annotations

import logging

from exports import db_retry, leftovers, metrics, states, storage
from exports.engine.attempt import Run
from exports.engine.failures import is_transient
from exports.errors import ExportDeadlineExceeded, ExportFailure, ExportStopped
from exports.models import ACTIVE_STATUSES, ExpiredReason, Export, ExportStatus, FailureKind
from exports.queue import export_enqueue
from exports.signals import send_export_ended
from exports.types.base import OutputShape
from exportsite.conf import export_settings

logger = logging.getLogger(__name__)


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


def _discard_checkpointed_quietly(run: Run) -> bool:
    """What the checkpoint lists: an upload announced before its start (whose id this run may
    never have seen: the start's reply was lost), and a multi-object run's uploads and objects
    (write_multi removes those itself; this repeats it in case that clean-up stopped half way),
    while this attempt still owns the job."""
    checkpoint = (
        Export.objects.filter(pk=run.export.pk, attempts=run.number).values_list("checkpoint", flat=True).first()
    )
    if not (checkpoint or {}).get("open") and not (checkpoint or {}).get("keys"):
        return True
    try:
        leftovers.discard_checkpointed(run.export.storage_alias or run.export_type.storage_alias, checkpoint or {})
    except Exception:
        logger.exception("discarding the uploads failed; the reconciler will try again", extra=run.log)
        return False
    return True


def _discard_attempt_storage(run: Run) -> bool:
    """Abort this attempt's upload(s); True when nothing is left that the job's record names."""
    aborted = abort_quietly(run.upload, run.log)
    return _discard_checkpointed_quietly(run) and aborted


def is_worker_time_limit(exc: BaseException) -> bool:
    from dramatiq.middleware.time_limit import TimeLimitExceeded

    return isinstance(exc, TimeLimitExceeded)


def end_unsuccessfully(run: Run, exc: BaseException) -> str:
    """Put the job in the state that explains why this run ended; returns the outcome name."""
    outcome = _record_end(run, exc)
    if outcome in ("failed", "expired"):
        send_export_ended(export_id=str(run.export.pk))
    return outcome


def _record_end(run: Run, exc: BaseException) -> str:
    pk, number, log = run.export.pk, run.number, run.log
    # The run's connection died with the database: every write below needs a new one.
    waited = db_retry.is_connection_error(exc) and db_retry.wait_for_database(what="export end")
    # A COPY reader's connection may have died while this thread's reconnected meanwhile.
    outage = waited or db_retry.lost_its_connection(exc)
    if isinstance(exc, ExportStopped):
        current = Export.objects.filter(pk=pk).values_list("status", "attempts").first()
        if current is None or current[0] not in ACTIVE_STATUSES or current[1] == number:
            # Cancelled or expired: nobody will resume this upload. (If another attempt took the
            # job over, the upload is its now, and must survive.)
            if _discard_attempt_storage(run):
                states.clear_upload(pk)
        logger.info("export stopped: no longer this worker's", extra=log)
        return "stopped"
    if is_transient(exc) and _retry_later(run, exc, outage=outage):
        return "retrying"
    cleaned = _discard_attempt_storage(run)
    if isinstance(exc, ExportDeadlineExceeded) or is_worker_time_limit(exc):
        message = "The export took longer than its time limit and was stopped."
        if states.expire(
            pk, reason=ExpiredReason.TIMEOUT, from_statuses=(ExportStatus.TRIGGERED,), attempt=number, message=message
        ):
            count_end(run, ExportStatus.EXPIRED)
        if cleaned:
            states.clear_upload(pk)
        logger.warning("export expired: time limit", extra=log)
        return "expired"
    if isinstance(exc, ExportFailure):
        _fail(run, FailureKind.DATA, exc.message, exc.payload, cleaned=cleaned)
        logger.warning("export failed: data", extra={**log, "reason": exc.payload})
        return "failed"
    if is_transient(exc):
        message = (
            f"The export failed {number} times because the database, storage or broker was unavailable. Retry it later."
        )
        _fail(run, FailureKind.TRANSIENT, message, type(exc).__name__, cleaned=cleaned)
        logger.error("export failed: transient errors, attempts exhausted", extra=log, exc_info=exc)
        return "failed"
    message = (
        "The export failed because of an internal error. Retry it; if it fails again, "
        f"report correlation id {run.export.correlation_id or pk}."
    )
    # The exception's text stays in the logs: it may quote data, and clients read the payload.
    _fail(run, FailureKind.INTERNAL, message, type(exc).__name__, cleaned=cleaned)
    logger.error("export failed: internal error", extra=log, exc_info=exc)
    return "failed"


def _fail(run: Run, kind: FailureKind, message: str, payload: str, *, cleaned: bool) -> None:
    if states.fail(run.export.pk, message=message, payload=payload, kind=kind, attempt=run.number):
        count_end(run, ExportStatus.FAILED, kind)
        if cleaned:
            states.clear_upload(run.export.pk)


def count_end(run: Run, status: str, failure_kind: str = "") -> None:
    metrics.record_job_end(run.export_type.key, status, metrics.seconds_since(run.export.triggered_at))
    if failure_kind:
        metrics.record_failure(run.export_type.key, failure_kind)


def _retry_later(run: Run, exc: BaseException, *, outage: bool) -> bool:
    """Back to PENDING with backoff (none after a database outage, which is over by now),
    keeping a single-file upload for the next attempt to resume."""
    conf = export_settings()
    if run.number >= conf.max_attempts:
        return False
    if run.export_type.output is not OutputShape.SINGLE:
        _discard_attempt_storage(run)
        states.clear_upload_of_active(run.export.pk, attempt=run.number)
    if not states.requeue(
        run.export.pk,
        attempt=run.number,
        message="A temporary problem interrupted the export; it will be retried automatically.",
        payload=type(exc).__name__,
        kind=FailureKind.TRANSIENT,
    ):
        return False
    metrics.record_retry(run.export_type.key)
    delay = 0 if outage else conf.retry_delay_seconds(run.number)
    export_enqueue(export_id=str(run.export.pk), export_type=run.export_type.key, delay_seconds=delay)
    extra = {**run.log, "delay_seconds": delay, "database_outage": outage}
    logger.warning("export will be retried", extra=extra, exc_info=exc)
    return True
