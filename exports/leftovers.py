"""What an export's record says it put in storage, and removing it (shared by the engine, the
reconciler, orphan cleaning and CCPA deletion). No business rules: callers decide when."""

from __future__ import annotations

from exports import storage
from exports.models import Export
from exports.types import EXPORT_TYPES


def checkpoint_uploads(checkpoint: dict) -> list[tuple[str, str]]:
    """(key, upload id) of every upload an attempt recorded in its checkpoint's "open" list. A
    multi-object attempt lists each upload it opened (completed or not: they are completed
    together at the very end). Every shape lists an upload there with no id just before starting
    it, so one started by a worker killed before it could record the id is still found, by its
    key. Older versions recorded finished multi-object keys under "keys" (no upload id)."""
    opened = [(str(key), str(upload_id)) for key, upload_id in checkpoint.get("open", [])]
    return opened + [(str(key), "") for key in checkpoint.get("keys", [])]


def discard_checkpointed(alias: str, checkpoint: dict) -> int:
    """Abort every upload an attempt's checkpoint lists (by id, or every open upload of the key
    when it has none) and delete the objects completed at those keys; returns how many objects
    were deleted. Safe to repeat."""
    deleted = 0
    for key, upload_id in checkpoint_uploads(checkpoint):
        if upload_id:
            storage.multipart_upload(alias, key=key, content_type="", acl="private", upload_id=upload_id).abort()
        else:
            storage.abort_uploads_of(alias, key)
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
    deleted = discard_checkpointed(alias, export.checkpoint or {})
    for key in dict.fromkeys([*(export.storage_keys or []), export.storage_key]):
        if key and storage.object_exists(alias, key):
            storage.object_delete(alias, key)
            deleted += 1
    return deleted
