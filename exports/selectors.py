"""Reads of export jobs, always scoped to what the user may see."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from campaigns.selectors import campaigns_visible_to
from exports.models import ACTIVE_STATUSES, Export, ExportStatus


def exports_visible_to(user) -> QuerySet[Export]:
    if user.is_authenticated and user.is_superuser:
        return Export.objects.all()
    return Export.objects.filter(campaign__in=campaigns_visible_to(user).values("pk"))


def export_list(*, user, campaign_id: int, export_type: str | None, limit: int, offset: int) -> list[Export]:
    """Newest first."""
    queryset = exports_visible_to(user).filter(campaign_id=campaign_id).select_related("campaign", "requester")
    if export_type:
        queryset = queryset.filter(export_type=export_type)
    return list(queryset.order_by("-created_at", "-pk")[offset : offset + limit])


def export_get(*, user, campaign_id: object, export_id: object) -> Export | None:
    """None for anything the user may not see, including malformed ids (never leak existence)."""
    try:
        campaign_pk, export_pk = int(str(campaign_id)), uuid.UUID(str(export_id))
    except ValueError:
        return None
    return (
        exports_visible_to(user)
        .select_related("campaign", "requester")
        .filter(campaign_id=campaign_pk, pk=export_pk)
        .first()
    )


def export_active_for(*, campaign_id: int, export_type: str, parameters_digest: str) -> Export | None:
    return (
        Export.objects.select_related("campaign", "requester")
        .filter(
            campaign_id=campaign_id,
            export_type=export_type,
            parameters_digest=parameters_digest,
            status__in=ACTIVE_STATUSES,
        )
        .first()
    )


def export_pending_ids() -> list[tuple[str, str]]:
    """(id, export type) of every PENDING job, oldest first."""
    return [
        (str(pk), export_type)
        for pk, export_type in Export.objects.filter(status=ExportStatus.PENDING)
        .order_by("created_at")
        .values_list("pk", "export_type")
    ]


def exports_of_campaigns(*, campaign_ids: list[int]) -> QuerySet[Export]:
    return Export.objects.filter(campaign_id__in=campaign_ids)


def export_active_count_for_user(*, user) -> int:
    return Export.objects.filter(requester=user, status__in=ACTIVE_STATUSES).count()


def export_snapshots_since(*, campaign_id: int, export_type: str, since) -> list[dict]:
    """The snapshots of a campaign's jobs of one type created since `since` (small: minutes)."""
    rows = Export.objects.filter(campaign_id=campaign_id, export_type=export_type, created_at__gte=since)
    return [snapshot for snapshot in rows.values_list("snapshot", flat=True) if snapshot]
