"""Staff actions on export jobs (admin and API share them), each audited."""

from __future__ import annotations

import logging

from exports import metrics, states, storage
from exports.errors import ApiError
from exports.links import export_download_url, export_file_name
from exports.models import ExpiredReason, Export, ExportEvent, ExportStatus
from exports.services.requesting import export_request
from exportsite.conf import export_settings

logger = logging.getLogger(__name__)


class ActionRefused(ApiError):
    status = 409


def export_audit(
    *,
    export: Export | None,
    action: str,
    actor=None,
    detail: dict | None = None,
    export_ref: str = "",
    campaign_id: int | None = None,
) -> ExportEvent:
    """Record who did what to which export."""
    return ExportEvent.objects.create(
        export=export,
        export_ref=str(export.pk) if export else export_ref,
        campaign_id=export.campaign_id if export else campaign_id,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        detail=detail or {},
    )


def export_cancel(*, export: Export, actor) -> None:
    """PENDING/TRIGGERED → CANCELLED; a running worker notices at its next check and aborts its upload."""
    if not states.cancel(export.pk):
        raise ActionRefused(
            "Only pending or running exports can be cancelled.",
            f"Export {export.pk} is {Export.objects.get(pk=export.pk).status}.",
        )
    metrics.record_job_end(export.export_type, ExportStatus.CANCELLED, metrics.seconds_since(export.triggered_at))
    export_audit(export=export, action=ExportEvent.Action.CANCELLED, actor=actor)
    logger.info("export cancelled", extra={"export_id": str(export.pk)})


def export_expire(*, export: Export, actor) -> None:
    """FINISHED → EXPIRED (reason "staff"), deleting the file(s)."""
    if not states.expire(export.pk, reason=ExpiredReason.STAFF, from_statuses=(ExportStatus.FINISHED,)):
        raise ActionRefused(
            "Only finished exports can be expired.", f"Export {export.pk} is {Export.objects.get(pk=export.pk).status}."
        )
    for key in export.storage_keys or [export.storage_key]:
        if key:
            storage.object_delete(export.storage_alias, key)
    export_audit(export=export, action=ExportEvent.Action.EXPIRED, actor=actor)
    logger.info("export expired by staff", extra={"export_id": str(export.pk)})


def export_retry(*, export: Export, actor, correlation_id: str = "") -> tuple[Export, bool]:
    """A new attempt of an ended (FAILED, EXPIRED, CANCELLED) export with the same parameters;
    dedupe applies, so an identical active job is returned instead of a second one."""
    if export.status not in (ExportStatus.FAILED, ExportStatus.EXPIRED, ExportStatus.CANCELLED):
        raise ActionRefused(
            "Only failed, expired or cancelled exports can be retried.", f"Export {export.pk} is {export.status}."
        )
    body = {"exportType": export.export_type, **export.parameters}
    new_export, created = export_request(
        campaign_id=export.campaign_id, body=body, user=actor, correlation_id=correlation_id, via="retry"
    )
    export_audit(
        export=export,
        action=ExportEvent.Action.RETRIED,
        actor=actor,
        detail={"new_export": str(new_export.pk), "created": created},
    )
    return new_export, created


def export_download_links(*, export: Export, actor, base_url: str = "") -> list[tuple[str, str]]:
    """(file name, fresh short-lived URL) for each file of a finished export; audited."""
    if export.status != ExportStatus.FINISHED:
        raise ActionRefused("Only finished exports can be downloaded.", f"Export {export.pk} is {export.status}.")
    ttl = export_settings().download_url_ttl_seconds
    if len(export.storage_keys) > 1 or not export.storage_key:
        links = [
            (
                key.rsplit("/", 1)[-1],
                storage.download_url(
                    export.storage_alias, key, filename=key.rsplit("/", 1)[-1], ttl_seconds=ttl, base_url=base_url
                ),
            )
            for key in export.storage_keys
        ]
    else:
        links = [(export_file_name(export), export_download_url(export=export, base_url=base_url) or "")]
    export_audit(export=export, action=ExportEvent.Action.DOWNLOADED, actor=actor, detail={"files": len(links)})
    return links
