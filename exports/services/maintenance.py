"""Keeping the job table and the storages honest: the database is the source of truth.

- reconcile: re-send PENDING jobs whose message was lost; retry (or give up on) TRIGGERED jobs
  whose worker stopped heart-beating; expire jobs past their deadline; abort uploads left open
  by jobs that ended while their worker was gone.
- retention: delete finished files past their expiry; the job becomes EXPIRED ("retention").
- orphans: storage objects and multipart uploads that no job owns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from exports import metrics, states, storage
from exports.models import ACTIVE_STATUSES, ExpiredReason, Export, FailureKind, PeriodicTask
from exports.services.notifications import export_ended
from exports.services.requesting import export_enqueue
from exports.types import EXPORT_TYPES
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


def _abort_upload_of(export: Export) -> bool:
    if not export.upload_id or not export.storage_key:
        return False
    export_type = EXPORT_TYPES.get(export.export_type)
    upload = storage.multipart_upload(
        export.storage_alias,
        key=export.storage_key,
        content_type=export_type.content_type if export_type else "application/octet-stream",
        acl=export_type.acl if export_type else "private",
        upload_id=export.upload_id,
    )
    upload.abort()
    return True


def export_reconcile(*, now: datetime | None = None) -> ReconcileReport:
    """One reconciliation pass (run periodically by the workers, or `manage.py reconcile_exports`)."""
    now = now or timezone.now()
    conf = export_settings()
    report = ReconcileReport()
    stale_before = now - timedelta(seconds=conf.stale_after_seconds)
    for export in Export.objects.filter(status="TRIGGERED", heartbeat_at__lt=stale_before):
        _reconcile_stale(export, now=now, report=report)
    for export in Export.objects.filter(status="PENDING", deadline_at__lt=now):
        if states.expire(
            export.pk,
            reason=ExpiredReason.TIMEOUT,
            from_statuses=("PENDING",),
            message="The export could not finish before its deadline.",
        ):
            metrics.record_job_end(export.export_type, "EXPIRED", metrics.seconds_since(export.triggered_at))
            _abort_upload_of(export)
            states.clear_upload(export.pk)
            report.expired += 1
            export_ended(export_id=str(export.pk))
    resend_before = now - timedelta(seconds=conf.reenqueue_after_seconds)
    lost = Export.objects.filter(status="PENDING", created_at__lt=resend_before)
    for export in lost.exclude(enqueued_at__gte=resend_before).order_by("created_at"):
        if export_enqueue(export_id=str(export.pk), export_type=export.export_type):
            report.reenqueued += 1
    ended_with_upload = Export.objects.exclude(status__in=(*ACTIVE_STATUSES, "FINISHED")).exclude(upload_id="")
    for export in ended_with_upload:
        report.uploads_aborted += int(_abort_upload_of(export))
        states.clear_upload(export.pk)
    if any(report.as_dict().values()):
        logger.info("exports reconciled", extra=report.as_dict())
    return report


def _reconcile_stale(export: Export, *, now: datetime, report: ReconcileReport) -> None:
    """A TRIGGERED job whose worker stopped heart-beating: retry, give up, or expire."""
    conf = export_settings()
    if export.deadline_at and export.deadline_at < now:
        if states.expire(
            export.pk,
            reason=ExpiredReason.TIMEOUT,
            from_statuses=("TRIGGERED",),
            attempt=export.attempts,
            message="The export took longer than its time limit.",
        ):
            metrics.record_job_end(export.export_type, "EXPIRED", metrics.seconds_since(export.triggered_at))
            _abort_upload_of(export)
            states.clear_upload(export.pk)
            report.expired += 1
            export_ended(export_id=str(export.pk))
        return
    if export.attempts < conf.max_attempts:
        if states.requeue(
            export.pk,
            attempt=export.attempts,
            kind=FailureKind.TRANSIENT,
            message="The worker running this export stopped; it will be retried automatically.",
            payload=f"no heartbeat since {export.heartbeat_at:%Y-%m-%dT%H:%M:%SZ}",
        ):
            export_enqueue(
                export_id=str(export.pk),
                export_type=export.export_type,
                delay_seconds=conf.retry_delay_seconds(export.attempts),
            )
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
        metrics.record_job_end(export.export_type, "FAILED", metrics.seconds_since(export.triggered_at))
        metrics.record_failure(export.export_type, FailureKind.TRANSIENT)
        _abort_upload_of(export)
        report.gave_up += 1
        export_ended(export_id=str(export.pk))


def export_apply_retention(*, now: datetime | None = None) -> int:
    """Delete finished files past their expiry; the jobs become EXPIRED with reason "retention"."""
    now = now or timezone.now()
    expired = 0
    for export in Export.objects.filter(status="FINISHED", file_expires_at__lt=now):
        if states.expire(export.pk, reason=ExpiredReason.RETENTION, from_statuses=("FINISHED",)):
            for key in export.storage_keys or [export.storage_key]:
                storage.object_delete(export.storage_alias, key)
            expired += 1
    if expired:
        logger.info("retention expired exports", extra={"count": expired})
    return expired


@dataclass
class OrphanReport:
    objects: list[tuple[str, str]] = field(default_factory=list)
    uploads: list[tuple[str, str, str]] = field(default_factory=list)


def export_find_orphans(*, min_age_seconds: int | None = None, now: datetime | None = None) -> OrphanReport:
    """Objects and open multipart uploads in the export storages that no job owns."""
    now = now or timezone.now()
    age = export_settings().orphan_min_age_seconds if min_age_seconds is None else min_age_seconds
    older_than = now - timedelta(seconds=age)
    owned_keys: set[tuple[str, str]] = set()
    for alias, key, keys in Export.objects.filter(status__in=(*ACTIVE_STATUSES, "FINISHED")).values_list(
        "storage_alias", "storage_key", "storage_keys"
    ):
        owned_keys.update((alias, k) for k in [key, *(keys or [])] if k)
    owned_uploads = set(Export.objects.exclude(upload_id="").values_list("upload_id", flat=True))
    report = OrphanReport()
    for alias in settings.EXPORT_STORAGE_ALIASES:
        for key, modified in storage.list_objects(alias):
            if (alias, key) not in owned_keys and modified < older_than:
                report.objects.append((alias, key))
        for key, upload_id, started in storage.list_uploads(alias):
            if upload_id not in owned_uploads and started < older_than:
                report.uploads.append((alias, key, upload_id))
    return report


def export_clean_orphans(report: OrphanReport) -> None:
    for alias, key in report.objects:
        storage.object_delete(alias, key)
    for alias, key, upload_id in report.uploads:
        storage.multipart_upload(alias, key=key, content_type="", acl="private", upload_id=upload_id).abort()
    logger.info("orphans cleaned", extra={"objects": len(report.objects), "uploads": len(report.uploads)})


MAINTENANCE_TASKS = ("reconcile", "retention")


def periodic_task_due(*, name: str, interval_seconds: int, now: datetime | None = None) -> bool:
    """Compare-and-set lease: True for exactly one caller per interval, however many ask."""
    now = now or timezone.now()
    PeriodicTask.objects.get_or_create(name=name, defaults={"last_sent_at": now - timedelta(days=365)})
    due_before = now - timedelta(seconds=interval_seconds)
    return PeriodicTask.objects.filter(name=name, last_sent_at__lt=due_before).update(last_sent_at=now) == 1


def export_maintenance() -> dict:
    """Everything periodic, in one pass."""
    report = export_reconcile().as_dict()
    report["retention_expired"] = export_apply_retention()
    return report
