"""Notifications when a job the user requested ends: e-mail and the optional webhook."""

from __future__ import annotations

import logging

import dramatiq
from django.urls import reverse

from exports import notify
from exports.models import Export, ExportStatus
from exports.serializers import ExportSerializer
from exports.types import EXPORT_TYPES
from exportsite.conf import export_settings

logger = logging.getLogger(__name__)

_NOTIFIED_STATUSES = (ExportStatus.FINISHED, ExportStatus.FAILED, ExportStatus.EXPIRED)


def export_page_url(export: Export) -> str:
    base = export_settings().public_base_url or "http://127.0.0.1:8000"
    return base.rstrip("/") + reverse("admin:exports_export_change", args=[export.pk])


def export_ended(*, export_id: str, **_signal) -> None:
    """Queue the e-mail and webhook for a job that just ended (failures here never fail the job).
    Connected to exports.signals.export_ended, which the engine and the reconciler send."""
    try:
        broker = dramatiq.get_broker()
        export = Export.objects.select_related("requester").get(pk=export_id)
        if export.status not in _NOTIFIED_STATUSES:
            return
        if export.requester is not None and export.requester.email:
            broker.get_actor("exports_notify_email").send(str(export_id))
        if export.webhook_url:
            broker.get_actor("exports_notify_webhook").send(str(export_id))
    except Exception:
        logger.exception("queueing notifications failed", extra={"export_id": str(export_id)})


def export_send_email(*, export_id: str) -> None:
    export = Export.objects.select_related("requester", "campaign").get(pk=export_id)
    if export.requester is None or not export.requester.email:
        return
    export_type = EXPORT_TYPES.get(export.export_type)
    label = export_type.label if export_type else export.export_type
    notify.send_export_email(
        to=export.requester.email,
        subject=f"[exportsite] {label} export of {export.campaign.name}: {export.status.lower()}",
        context={
            "name": export.requester.get_full_name() or export.requester.get_username(),
            "export_type_label": label,
            "campaign_name": export.campaign.name,
            "status": export.status,
            "rows": export.row_count,
            "error": export.error_message,
            "export_url": export_page_url(export),
        },
    )
    logger.info("export e-mail sent", extra={"export_id": str(export.pk)})


def export_send_webhook(*, export_id: str) -> None:
    """POST the export JSON (no download link), signed and timestamped; raises to be retried."""
    export = Export.objects.select_related("campaign", "requester").get(pk=export_id)
    if not export.webhook_url:
        return
    payload = ExportSerializer(export, context={"can_download": False}).data
    conf = export_settings()
    try:
        status = notify.post_webhook(
            url=export.webhook_url,
            payload=payload,
            secret=conf.webhook_secret,
            allow_private=conf.webhook_allow_private,
            proxy=conf.webhook_proxy,
        )
    except notify.WebhookRefused as refused:
        logger.warning("export webhook refused", extra={"export_id": str(export.pk), "reason": str(refused)})
        return
    logger.info("export webhook delivered", extra={"export_id": str(export.pk), "status": status})
