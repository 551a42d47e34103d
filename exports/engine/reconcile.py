"""The reconciler: the database is the source of truth for every job a worker should be running.

Re-send PENDING jobs whose message was lost; retry (or give up on) TRIGGERED jobs whose worker
stopped heart-beating (that part also on its own, about every second: StaleWatch); expire jobs
past their deadline; remove what ended jobs left in storage while their worker was gone (an
open upload, a multi-object job's uploads and objects). It ends runs the way outcomes.py does
for a live worker, so it lives beside it, in the engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from exports import leftovers, metrics, states
from exports.models import ACTIVE_STATUSES, ExpiredReason, Export, ExportStatus, FailureKind
from exports.queue import export_enqueue
from exports.signals import send_export_ended
from exportsite.conf import export_settings

logger = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    reenqueued: int = 0
    retried: int = 0
    gave_up: int = 0
    expired: int = 0
    uploads_aborted: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _abort_upload_of(export: Export) -> bool | None:
    """Remove what an ended job left in storage: its open upload, or a multi-object job's
    uploads and completed objects (in its checkpoint; such rows have no upload id). True when
    something was removed, False when there was nothing, None when it failed (the row keeps the
    record, so the ended-with-upload pass tries again)."""
    if not export.upload_id and not (export.checkpoint or {}).get("open"):
        return False
    try:
        leftovers.discard_stored(export)
    except Exception:
        log = {"export_id": str(export.pk)}
        logger.exception("aborting the upload failed; the orphan cleaner will remove it", extra=log)
        return None
    return True


def export_reconcile(*, now: datetime | None = None) -> ReconcileReport:
    """One reconciliation pass (run periodically by the workers, or `manage.py reconcile_exports`)."""
    now = now or timezone.now()
    conf = export_settings()
    report = ReconcileReport()
    _reconcile_stale_jobs(now=now, report=report)
    for export in Export.objects.filter(status=ExportStatus.PENDING, deadline_at__lt=now):
        if states.expire(
            export.pk,
            reason=ExpiredReason.TIMEOUT,
            from_statuses=(ExportStatus.PENDING,),
            message="The export could not finish before its deadline.",
        ):
            metrics.record_job_end(export.export_type, ExportStatus.EXPIRED, metrics.seconds_since(export.triggered_at))
            if _abort_upload_of(export) is not None:
                states.clear_upload(export.pk)
            report.expired += 1
            send_export_ended(export_id=str(export.pk))
    resend_before = now - timedelta(seconds=conf.reenqueue_after_seconds)
    lost = Export.objects.filter(status=ExportStatus.PENDING, created_at__lt=resend_before)
    for export in lost.exclude(enqueued_at__gte=resend_before).order_by("created_at"):
        if export_enqueue(export_id=str(export.pk), export_type=export.export_type):
            report.reenqueued += 1
    ended_with_upload = Export.objects.exclude(status__in=(*ACTIVE_STATUSES, ExportStatus.FINISHED)).filter(
        ~Q(upload_id="") | Q(checkpoint__has_key="open")
    )
    for export in ended_with_upload:
        if _abort_upload_of(export):
            report.uploads_aborted += 1
            states.clear_upload(export.pk)
    _log(report)
    return report


def export_reconcile_stale(*, now: datetime | None = None) -> ReconcileReport:
    """Only the takeover of TRIGGERED jobs whose worker stopped heart-beating (StaleWatch runs
    it about once a second in every worker; the takeover itself is compare-and-set)."""
    report = ReconcileReport()
    _reconcile_stale_jobs(now=now or timezone.now(), report=report)
    _log(report)
    return report


def _log(report: ReconcileReport) -> None:
    if any(report.as_dict().values()):
        logger.info("exports reconciled", extra=report.as_dict())


def _reconcile_stale_jobs(*, now: datetime, report: ReconcileReport) -> None:
    stale_before = now - timedelta(seconds=export_settings().stale_after_seconds)
    for export in Export.objects.filter(status=ExportStatus.TRIGGERED, heartbeat_at__lt=stale_before):
        _reconcile_stale(export, now=now, report=report)


def _reconcile_stale(export: Export, *, now: datetime, report: ReconcileReport) -> None:
    """A TRIGGERED job whose worker stopped heart-beating: retry, give up, or expire."""
    conf = export_settings()
    if export.deadline_at and export.deadline_at < now:
        if states.expire(
            export.pk,
            reason=ExpiredReason.TIMEOUT,
            from_statuses=(ExportStatus.TRIGGERED,),
            attempt=export.attempts,
            message="The export took longer than its time limit.",
        ):
            metrics.record_job_end(export.export_type, ExportStatus.EXPIRED, metrics.seconds_since(export.triggered_at))
            if _abort_upload_of(export) is not None:
                states.clear_upload(export.pk)
            report.expired += 1
            send_export_ended(export_id=str(export.pk))
        return
    if export.attempts < conf.max_attempts:
        if states.requeue(
            export.pk,
            attempt=export.attempts,
            kind=FailureKind.TRANSIENT,
            message="The worker running this export stopped; it will be retried automatically.",
            payload=f"no heartbeat since {export.heartbeat_at:%Y-%m-%dT%H:%M:%SZ}",
        ):
            # At once, no backoff: a dead worker says nothing about the job, and the next
            # attempt resumes from the checkpoint (MAX_ATTEMPTS bounds a job that kills its worker).
            export_enqueue(export_id=str(export.pk), export_type=export.export_type)
            metrics.record_retry(export.export_type)
            report.retried += 1
        return
    if states.fail(
        export.pk,
        attempt=export.attempts,
        kind=FailureKind.TRANSIENT,
        message=f"The export was interrupted {export.attempts} times and was given up.",
        payload=f"no heartbeat since {export.heartbeat_at:%Y-%m-%dT%H:%M:%SZ}",
    ):
        metrics.record_job_end(export.export_type, ExportStatus.FAILED, metrics.seconds_since(export.triggered_at))
        metrics.record_failure(export.export_type, FailureKind.TRANSIENT)
        if _abort_upload_of(export) is not None:
            states.clear_upload(export.pk)
        report.gave_up += 1
        send_export_ended(export_id=str(export.pk))


class StaleWatch:
    """When a worker process may give up other workers' jobs for dead: only once it has itself
    reached the database for a whole EXPORTS_STALE_AFTER_SECONDS, so after a database outage (or
    a freeze of this process) the live workers' beats get through first and no live run is taken
    over. `tick` is called about once a second by the MaintenanceTicker thread and then checks
    (one SELECT on the status index), so a dead worker's job is taken over at most a second
    after it went stale; `unreachable` is called when the database failed the ticker."""

    def __init__(self) -> None:
        self._reachable_since: float | None = None
        self._last_tick: float | None = None

    def unreachable(self) -> None:
        self._reachable_since = None

    def tick(self, *, now: float) -> ReconcileReport | None:
        """One look (`now`: time.monotonic()); the report when a stale check ran."""
        stale_after = export_settings().stale_after_seconds
        if self._last_tick is not None and now - self._last_tick > stale_after / 2:
            self._reachable_since = None  # this thread did not run for a while: its view is old
        self._last_tick = now
        if self._reachable_since is None or now - self._reachable_since < stale_after:
            Export.objects.filter(status=ExportStatus.TRIGGERED).exists()  # reaches the database, or raises
            if self._reachable_since is None:
                self._reachable_since = now
            return None
        return export_reconcile_stale()
