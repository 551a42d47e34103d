"""What an export's record says it put in storage, and removing it (shared by the engine, the
reconciler, orphan cleaning and CCPA deletion). No business rules: callers decide when."""

from __future__ import annotations

from exports import storage
from exports.models import Export
from exports.types import EXPORT_TYPES


def multi_recorded(checkpoint: dict) -> list[tuple[str, str]]:
    """(key, upload id) of every object a multi-object attempt recorded in its checkpoint: each
    upload it opened (completed or not: they are completed together at the very end), and the
    finished keys older versions recorded under "keys" (no upload id)."""
    opened = [(str(key), str(upload_id)) for key, upload_id in checkpoint.get("open", [])]
    return opened + [(str(key), "") for key in checkpoint.get("keys", [])]


def discard_multi(alias: str, checkpoint: dict) -> int:
    """Abort every upload a multi-object attempt recorded and delete the objects it completed;
    returns how many objects were deleted. Safe to repeat."""
    deleted = 0
    for key, upload_id in multi_recorded(checkpoint):
        if upload_id:
            storage.multipart_upload(alias, key=key, content_type="", acl="private", upload_id=upload_id).abort()
        if storage.object_exists(alias, key):
            storage.object_delete(alias, key)
            deleted += 1
    return deleted


def discard_stored(export: Export) -> int:
    """Remove everything a job put in storage, whatever its status says: its open upload, the
    uploads and objects of a multi-object attempt (checkpoint), and its files. Returns how many
    objects were deleted. For jobs that will not finish (or must not keep their files)."""
    export_type = EXPORT_TYPES.get(export.export_type)
    alias = export.storage_alias or (export_type.storage_alias if export_type else "")
    if not alias:
        return 0
    if export.upload_id and export.storage_key:
        storage.multipart_upload(
            alias, key=export.storage_key, content_type="", acl="private", upload_id=export.upload_id
        ).abort()
    deleted = discard_multi(alias, export.checkpoint or {})
    for key in dict.fromkeys([*(export.storage_keys or []), export.storage_key]):
        if key and storage.object_exists(alias, key):
            storage.object_delete(alias, key)
            deleted += 1
    return deleted
