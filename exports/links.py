"""Short-lived download links for finished exports (read-only: no state changes)."""

from __future__ import annotations

import posixpath

from exports import storage
from exports.models import Export, ExportStatus
from exportsite.conf import export_settings


def export_file_name(export: Export) -> str:
    return posixpath.basename(export.storage_key)


def export_download_url(*, export: Export, base_url: str = "") -> str | None:
    """A fresh signed URL for a finished single-file export; None otherwise."""
    if export.status != ExportStatus.FINISHED or not export.storage_key or len(export.storage_keys) > 1:
        return None
    return storage.download_url(
        export.storage_alias,
        export.storage_key,
        filename=export_file_name(export),
        ttl_seconds=export_settings().download_url_ttl_seconds,
        base_url=export_settings().public_base_url or base_url,
    )
