"""Running one export: claim → snapshot → resume → write → finish.

Every exit path leaves storage clean or resumable: a failed, cancelled or timed-out run aborts
its upload, so no partial object is ever visible; a transient error (database, S3, broker)
keeps a single-file upload and its checkpoint and sends the job back to PENDING with backoff,
and the next attempt continues after the last uploaded part. How an unfinished run ends
(stopped, retried, expired, failed) is outcomes.py; what it writes is shapes.py.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from exports import db_retry, leftovers, metrics, states, storage
from exports.engine import replica, shapes
from exports.engine.attempt import Run
from exports.engine.outcomes import abort_quietly, end_unsuccessfully, is_worker_time_limit
from exports.errors import ExportFailure, ExportStopped
from exports.models import Export, ExportStatus
from exports.options import output_spec
from exports.signals import send_export_ended
from exports.storage import UploadedPart
from exports.types import EXPORT_TYPES
from exports.types.base import ExportContext, ExportType, OutputShape
from exportsite import tracing
from exportsite.conf import export_settings
from exportsite.db_router import export_reads_from
from exportsite.logging import correlation_id_var

logger = logging.getLogger(__name__)


def export_time_limit(export_type: ExportType) -> timedelta:
    return timedelta(seconds=export_type.time_limit_seconds or export_settings().default_time_limit_seconds)


def export_run(*, export_id: str) -> str:
    """Claim and run one export; a no-op for jobs that are no longer PENDING. Returns the outcome."""
    # Reads ride out a lost connection too: a message taken while the database restarts must
    # not be dropped (its job would wait for the reconciler).
    jobs = Export.objects.select_related("campaign").filter(pk=export_id)
    export = db_retry.retried(lambda _: jobs.first(), what="export lookup")
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
    db_retry.retried(lambda _: export.refresh_from_db(), what="export lookup")
    tracing.annotate(
        export__type=export.export_type, campaign__id=export.campaign_id, correlation_id=export.correlation_id
    )
    token = correlation_id_var.set(export.correlation_id)
    try:
        return _run_claimed(Run(export, export_type))
    finally:
        correlation_id_var.reset(token)


def _run_claimed(run: Run) -> str:
    try:
        resumed = _resume(run)
        logger.info("export started", extra={**run.log, "attempt": run.number, "resumed": resumed})
        ctx = _context(run)
        # The campaign's rows come from the replica once it holds the snapshot (replica.py).
        with export_reads_from(replica.read_alias(ctx.snapshot, run.log)):
            run.export_type.prepare(ctx)
            result = _write_output(ctx, run)
    except BaseException as exc:  # noqa: BLE001 - every way out is recorded on the job
        outcome = end_unsuccessfully(run, exc)
        if not isinstance(exc, Exception) and not is_worker_time_limit(exc):
            raise
        return outcome
    return _finish(run, result)


def _context(run: Run) -> ExportContext:
    """The job's snapshot is fixed by its first attempt and kept by every retry, so a retried
    or resumed run reads the same rows and names its files with the same start time."""
    export, export_type = run.export, run.export_type
    snapshot = export.snapshot or {
        **export_type.snapshot(export.campaign),
        **replica.wal_position_for_snapshot(),  # after the bounds: a replica at it holds them
        "started_at": timezone.now().isoformat(),
    }
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
        resume_after=run.last_key if run.resumed else None,
    )


def _resume(run: Run) -> bool:
    """Continue the previous attempt's upload after its last checkpoint when that is possible;
    otherwise abort any leftover upload so the run starts over. True when resumed."""
    export, export_type, checkpoint = run.export, run.export_type, run.export.checkpoint or {}
    alias = export.storage_alias or export_type.storage_alias
    if export_type.output is OutputShape.MULTI:
        # A multi-file run starts over: remove what an interrupted attempt left (its finished
        # objects and its open uploads), so consumers never see a partial or doubled set.
        leftovers.discard_checkpointed(alias, checkpoint)
        if checkpoint:
            states.clear_upload_of_active(export.pk, attempt=run.number)
        return False
    if not export.upload_id:
        if checkpoint.get("open"):  # announced, then its worker died before it recorded the id
            leftovers.discard_checkpointed(alias, checkpoint)
            states.clear_upload_of_active(export.pk, attempt=run.number)
        return False
    upload = storage.multipart_upload(
        alias,
        key=export.storage_key,
        content_type=export_type.content_type,
        acl=export_type.acl,
        upload_id=export.upload_id,
    )
    usable = (
        export_type.output is OutputShape.SINGLE
        and output_spec(export_type, export.parameters).resumable
        and checkpoint.get("upload_id") == export.upload_id
        and checkpoint.get("parts")
        and upload.is_open()
    )
    if not usable:
        abort_quietly(upload, run.log)
        leftovers.discard_checkpointed(alias, checkpoint)  # also one announced with no id yet
        states.clear_upload_of_active(export.pk, attempt=run.number)
        return False
    parts = [UploadedPart(number=n, etag=etag, size=size) for n, etag, size in checkpoint["parts"]]
    logger.info("export resumes", extra={**run.log, "next_part": len(parts) + 1, "rows": checkpoint["rows"]})
    run.resume(upload=upload, parts=parts, rows=checkpoint["rows"], last_key=checkpoint["last_key"])
    return True


def _write_output(ctx: ExportContext, run: Run) -> shapes.RunResult:
    """Start (or continue) the upload(s) for the type's output shape and stream into them."""
    export, export_type = run.export, run.export_type
    estimate = export_type.estimate(ctx)  # all rows of the snapshot, resumed or not
    spec = output_spec(export_type, export.parameters) if export_type.output is OutputShape.SINGLE else None
    if estimate > export_type.max_rows:
        raise ExportFailure(
            f"The export would have about {estimate:,} rows, over the limit of {export_type.max_rows:,} "
            "rows for this type; narrow it with filters.",
            f"Row limit {export_type.max_rows} exceeded by the estimate.",
        )
    if export_type.output is OutputShape.MULTI:
        _record_upload_started(run, key="", upload_id="", estimate=estimate)
        return shapes.write_multi(ctx, run)
    if not run.resumed:
        key = export_type.storage_key(
            campaign=ctx.campaign,
            export_id=str(export.pk),
            created_at=export.created_at,
            extension=spec.extension if spec else None,
        )
        upload = storage.multipart_upload(
            export_type.storage_alias,
            key=key,
            content_type=spec.content_type if spec else export_type.content_type,
            acl=export_type.acl,
        )
        # Announced before it starts: a worker killed before recording the id (or a start whose
        # reply was lost) leaves an upload that the next attempt, or the reconciler, finds by key.
        _record_upload_started(run, key=key, upload_id="", estimate=estimate, checkpoint={"open": [[key, ""]]})
        upload.start()
        run.use_upload(upload, checkpoints=spec is not None and spec.resumable)
    assert run.upload is not None
    _record_upload_started(run, key=run.upload.key, upload_id=run.upload.upload_id, estimate=estimate)
    if export_type.output is OutputShape.ZIP:
        return shapes.write_zip(ctx, run)
    assert spec is not None  # output_spec() above: every single-file output has one
    resumed = run.resumed
    result = shapes.write_single(ctx, run, spec=spec)
    if resumed:
        # The uploader hashed only this attempt's bytes; hash the finished object once instead.
        sha256 = storage.object_sha256(export_type.storage_alias, run.upload.key)
        result = shapes.RunResult(rows=result.rows, bytes=result.bytes, sha256=sha256, keys=result.keys)
    return result


def _record_upload_started(
    run: Run, *, key: str, upload_id: str, estimate: int, checkpoint: dict | None = None
) -> None:
    if not states.record_upload_started(
        run.export.pk,
        attempt=run.number,
        storage_alias=run.export_type.storage_alias,
        storage_key=key,
        upload_id=upload_id,
        row_estimate=estimate,
        checkpoint=checkpoint,
    ):
        raise ExportStopped()


def _finish(run: Run, result: shapes.RunResult) -> str:
    conf = export_settings()
    expires_at = timezone.now() + timedelta(days=conf.retention_days_for(run.export_type.key))
    if not states.finish(
        run.export.pk,
        attempt=run.number,
        row_count=result.rows,
        bytes_written=result.bytes,
        sha256=result.sha256,
        storage_keys=result.keys,
        file_expires_at=expires_at,
    ):
        # Cancelled or expired between the upload's completion and now: the file must not outlive it.
        for key in result.keys:
            storage.object_delete(run.export_type.storage_alias, key)
        logger.info("export ended elsewhere after upload; file removed", extra=run.log)
        return "stopped"
    logger.info("export finished", extra={**run.log, "rows": result.rows, "bytes": result.bytes})
    metrics.record_job_end(
        run.export_type.key,
        ExportStatus.FINISHED,
        metrics.seconds_since(run.export.triggered_at),
        rows=result.rows,
        bytes=result.bytes,
    )
    send_export_ended(export_id=str(run.export.pk))
    return "finished"
