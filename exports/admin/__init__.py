"""Admin for export jobs and their audit trail (registered on import)."""

from exports.admin.events import ExportEventAdmin, ExportEventInline
from exports.admin.export_admin import ExportAdmin

__all__ = ["ExportAdmin", "ExportEventAdmin", "ExportEventInline"]
