"""Keeping the storages honest: the database is the source of truth. (The reconciler, which
ends runs whose worker is gone, is the engine's: exports/engine/reconcile.py.)

- retention: delete finished files past their expiry; the job becomes EXPIRED ("retention").
- orphans: storage objects and multipart uploads that no job owns.
- periodic_task_due: one caller per interval across all workers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from exports import leftovers, states, storage
from exports.models import ACTIVE_STATUSES, ExpiredReason, Export, ExportStatus, PeriodicTask
from exports.types import EXPORT_TYPES
from exportsite.conf import export_settings

logger = logging.getLogger(__name__)


def export_apply_retention(*, now: datetime | None = None) -> int:
    """Delete finished files past their expiry; the jobs become EXPIRED with reason "retention"."""
    now = now or timezone.now()
    expired = 0
    for export in Export.objects.filter(status=ExportStatus.FINISHED, file_expires_at__lt=now):
        if states.expire(export.pk, reason=ExpiredReason.RETENTION, from_statuses=(ExportStatus.FINISHED,)):
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
    """Objects and open multipart uploads in the export storages that no job owns.

    Only exportsite's own key prefixes are listed, each bucket (or folder) once however many
    aliases share it, and a key is owned by (bucket, key), not by alias. Types whose objects sit
    in someone else's folders (SFMC) own no prefix: only the keys and uploads their ended jobs
    recorded are candidates there, nothing else in those folders is ours."""
    now = now or timezone.now()
    age = export_settings().orphan_min_age_seconds if min_age_seconds is None else min_age_seconds
    older_than = now - timedelta(seconds=age)
    buckets = _export_buckets()
    location = {alias: storage.storage_location(alias) for alias in export_settings().storage_aliases}
    owned_keys, owned_uploads = _owned(location)
    report = OrphanReport()
    for alias, prefixes in buckets.values():
        for prefix in sorted(prefixes):
            for key, modified in storage.list_objects(alias, prefix=prefix):
                if (location[alias], key) not in owned_keys and modified < older_than:
                    report.objects.append((alias, key))
            for key, upload_id, started in storage.list_uploads(alias, prefix=prefix):
                if upload_id not in owned_uploads and started < older_than:
                    report.uploads.append((alias, key, upload_id))
    _recorded_orphans(report, location, owned_keys, owned_uploads, older_than)
    return report


def _export_buckets() -> dict[tuple[str, ...], tuple[str, set[str]]]:
    """Each storage location once: an alias that reaches it and the key prefixes exportsite owns
    there (those of the types stored in any alias at that location)."""
    buckets: dict[tuple[str, ...], tuple[str, set[str]]] = {}
    for alias in export_settings().storage_aliases:
        _, prefixes = buckets.setdefault(storage.storage_location(alias), (alias, set()))
        for export_type in EXPORT_TYPES.values():
            if export_type.storage_alias == alias and export_type.own_key_prefix:
                prefixes.add(export_type.own_key_prefix)
    return buckets


def _owned(location: dict[str, tuple[str, ...]]) -> tuple[set[tuple[tuple[str, ...], str]], set[str]]:
    """(location, key) of every file of a live or FINISHED job, and every upload id a job holds
    (a running multi-object job's uploads, and objects just completed, are in its checkpoint)."""
    owned_keys: set[tuple[tuple[str, ...], str]] = set()
    live = Export.objects.filter(status__in=(*ACTIVE_STATUSES, ExportStatus.FINISHED), storage_alias__in=list(location))
    for alias, key, keys, checkpoint in live.values_list("storage_alias", "storage_key", "storage_keys", "checkpoint"):
        opened = [k for k, _ in leftovers.checkpoint_uploads(checkpoint or {})]
        owned_keys.update((location[alias], k) for k in [key, *(keys or []), *opened] if k)
    owned_uploads = set(Export.objects.exclude(upload_id="").values_list("upload_id", flat=True))
    for checkpoint in live.filter(status__in=ACTIVE_STATUSES).values_list("checkpoint", flat=True):
        owned_uploads.update(u for _, u in leftovers.checkpoint_uploads(checkpoint or {}) if u)
    return owned_keys, owned_uploads


def _recorded_orphans(
    report: OrphanReport,
    location: dict[str, tuple[str, ...]],
    owned_keys: set[tuple[tuple[str, ...], str]],
    owned_uploads: set[str],
    older_than: datetime,
) -> None:
    """Keys and uploads that ended jobs of prefix-less (multi-object) types recorded and left."""
    types = [key for key, export_type in EXPORT_TYPES.items() if export_type.own_key_prefix is None]
    ended = Export.objects.exclude(status__in=(*ACTIVE_STATUSES, ExportStatus.FINISHED)).filter(
        export_type__in=types, storage_alias__in=list(location)
    )
    seen = {(location[alias], key) for alias, key in report.objects} | owned_keys
    for export in ended.only("storage_alias", "storage_key", "storage_keys", "checkpoint"):
        alias, recorded = export.storage_alias, leftovers.checkpoint_uploads(export.checkpoint or {})
        for key in dict.fromkeys([export.storage_key, *(export.storage_keys or []), *(k for k, _ in recorded)]):
            if not key or (location[alias], key) in seen:
                continue
            seen.add((location[alias], key))
            modified = storage.object_modified(alias, key)
            if modified is not None and modified < older_than:
                report.objects.append((alias, key))
        for key, upload_id in recorded:
            if not upload_id or upload_id in owned_uploads:
                continue
            owned_uploads.add(upload_id)  # listed once
            started = storage.upload_started(alias, key=key, upload_id=upload_id)
            if started is not None and started < older_than:
                report.uploads.append((alias, key, upload_id))


def export_clean_orphans(report: OrphanReport) -> None:
    for alias, key in report.objects:
        storage.object_delete(alias, key)
    for alias, key, upload_id in report.uploads:
        storage.multipart_upload(alias, key=key, content_type="", acl="private", upload_id=upload_id).abort()
    logger.info("orphans cleaned", extra={"objects": len(report.objects), "uploads": len(report.uploads)})


def periodic_task_due(*, name: str, interval_seconds: int, now: datetime | None = None) -> bool:
    """Compare-and-set lease: True for exactly one caller per interval, however many ask."""
    now = now or timezone.now()
    PeriodicTask.objects.get_or_create(name=name, defaults={"last_sent_at": now - timedelta(days=365)})
    due_before = now - timedelta(seconds=interval_seconds)
    return PeriodicTask.objects.filter(name=name, last_sent_at__lt=due_before).update(last_sent_at=now) == 1
