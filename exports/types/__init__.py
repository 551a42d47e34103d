"""The one registry of export types. Adding a type = one module + one line here."""

from __future__ import annotations

from exports.types.base import ExportType
from exports.types.entries import EntriesExport

EXPORT_TYPES: dict[str, ExportType] = {export_type.key: export_type for export_type in (EntriesExport(),)}


def export_type_get(key: object) -> ExportType | None:
    return EXPORT_TYPES.get(key) if isinstance(key, str) else None
