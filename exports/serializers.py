"""JSON shapes of the API (orig camelCase field names)."""

from __future__ import annotations

from rest_framework import serializers

from exports.columns import format_timestamp
from exports.inputs import has_control_characters
from exports.links import export_download_url
from exports.models import Export, ExportStatus


def _dates(export: Export) -> dict:
    dates = {"created": format_timestamp(export.created_at)}
    for name in ("triggered", "finished", "failed", "cancelled", "expired"):
        value = getattr(export, f"{name}_at")
        if value is not None:
            dates[name] = format_timestamp(value)
    return dates


class ExportSerializer(serializers.BaseSerializer):
    """The orig export object plus exportsite's additions (bytes, sha256, progress, error…)."""

    def to_representation(self, export: Export) -> dict:
        data: dict = {
            "id": str(export.pk),
            "exportType": export.export_type,
            "campaignId": str(export.campaign_id),
            "campaignName": export.campaign.name,
            "date": _dates(export),
            "status": export.status,
            "requesterUserId": str(export.requester_id) if export.requester_id else None,
        }
        data.update({key: value for key, value in export.parameters.items()})
        if export.status == ExportStatus.FINISHED:
            data["count"] = export.row_count
            data["bytes"] = export.bytes_written
            data["sha256"] = export.sha256
            if len(export.storage_keys) > 1 or not export.storage_key:  # multi-file: keys, never a path
                data["keys"] = list(export.storage_keys)
            else:
                data["key"] = export.storage_key
                if self.context.get("can_download", False):
                    data["path"] = export_download_url(export=export, base_url=self.context.get("base_url", ""))
        elif export.status == ExportStatus.TRIGGERED:
            data["progress"] = {
                "rowsWritten": export.rows_written,
                "rowsEstimated": export.row_count,
                "bytesWritten": export.bytes_written,
            }
        if export.status in (ExportStatus.FAILED, ExportStatus.EXPIRED) and export.error_message:
            data["error"] = {
                "message": export.error_message,
                "payload": export.error_payload,
                "kind": export.failure_kind or None,
            }
        if export.expired_reason:
            data["expiredReason"] = export.expired_reason
        data["attempts"] = export.attempts
        if export.correlation_id:
            data["correlationId"] = export.correlation_id
        return data


def _no_control_characters(value: str) -> None:
    if has_control_characters(value):
        raise serializers.ValidationError("Control characters are not allowed.")


class ExportListQuerySerializer(serializers.Serializer):
    exportType = serializers.CharField(required=False, allow_blank=True, validators=[_no_control_characters])
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=50)
    offset = serializers.IntegerField(required=False, min_value=0, max_value=10_000_000, default=0)
