"""The one registry of export types. Adding a type = one module + one line here."""

from __future__ import annotations

from exports.types.auto_reminder_email import AutoReminderEmailExport
from exports.types.base import ExportType
from exports.types.code_assignments import CodeAssignmentsExport
from exports.types.code_waves import CodeWavesExport
from exports.types.codes import CodesExport
from exports.types.entries import EntriesExport
from exports.types.fanlist import FanlistExport
from exports.types.opt_ins import ArtistOptInExport, ArtistSmsOptInExport, LivenationOptInExport
from exports.types.promoter_email_opt_in import PromoterEmailOptInExport
from exports.types.reminder_email import ReminderEmailExport, ReminderEmailSampleExport
from exports.types.scoring import ScoringExport
from exports.types.verified_entries import VerifiedEntriesExport
from exports.types.waitlist import WaitlistExport

EXPORT_TYPES: dict[str, ExportType] = {
    export_type.key: export_type
    for export_type in (
        EntriesExport(),
        ScoringExport(),
        ArtistOptInExport(),
        ArtistSmsOptInExport(),
        LivenationOptInExport(),
        CodesExport(),
        CodeAssignmentsExport(),
        CodeWavesExport(),
        VerifiedEntriesExport(),
        FanlistExport(),
        WaitlistExport(),
        ReminderEmailExport(),
        ReminderEmailSampleExport(),
        AutoReminderEmailExport(),
        PromoterEmailOptInExport(),
    )
}


def export_type_get(key: object) -> ExportType | None:
    return EXPORT_TYPES.get(key) if isinstance(key, str) else None
