"""CCPA deletion: the files and records of every export of the campaigns a fan entered."""

from __future__ import annotations

import hashlib
import logging

from campaigns.models import Entry
from exports import states
from exports.leftovers import discard_stored
from exports.models import ACTIVE_STATUSES, Export, ExportEvent
from exports.selectors import exports_of_campaigns
from exports.services.actions import export_audit
from exports.types import EXPORT_TYPES

logger = logging.getLogger(__name__)


def ccpa_exempt_types() -> set[str]:
    """Types kept under CCPA (orig: verifiedEntries, scoring, autoReminderEmail)."""
    return {key for key, export_type in EXPORT_TYPES.items() if export_type.ccpa_exempt}


def ccpa_delete_user_exports(*, user_id: str, actor) -> dict:
    """Delete files and records; idempotent (a repeat finds nothing). `user_id` is the fan's
    global user id. Running jobs are cancelled first; their uploads are aborted here (a worker
    that died would never do it) and every file counted in `files` was deleted."""
    campaign_ids = list(
        Entry.objects.filter(fan__global_user_id=user_id).values_list("campaign_id", flat=True).distinct()
    )
    exports = list(exports_of_campaigns(campaign_ids=campaign_ids).exclude(export_type__in=ccpa_exempt_types()))
    files = 0
    for export in exports:
        if export.status in ACTIVE_STATUSES:
            states.cancel(export.pk)
        # Read again: the job may have finished (or a worker recorded an upload) since the
        # listing, and its status then no longer says what is stored. Whatever it says, the
        # job's upload is aborted and every key it recorded is deleted.
        current = Export.objects.filter(pk=export.pk).first()
        if current is not None:
            files += discard_stored(current)
    deleted = 0
    for export in exports:
        deleted += export.delete()[1].get("exports.Export", 0)
    user_ref = hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:16]  # no personal data in the audit
    for campaign_id in campaign_ids:
        export_audit(
            export=None,
            action=ExportEvent.Action.CCPA_DELETED,
            actor=actor,
            campaign_id=campaign_id,
            export_ref="",
            detail={"user_ref": user_ref, "exports": deleted, "files": files},
        )
    logger.info("ccpa deletion", extra={"user_ref": user_ref, "exports": deleted, "files": files})
    return {"deletedCount": {"exports": deleted, "files": files}}
