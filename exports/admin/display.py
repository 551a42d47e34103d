"""How an export looks in the admin: small HTML fragments, shared by the change list, the detail
page and the status endpoint that refreshes the list. Pure functions of the job, no database."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from exports.models import Export, ExportStatus
from exports.types import EXPORT_TYPES

EMPTY = "—"

STATUS_COLOURS: dict[str, str] = {
    ExportStatus.PENDING: "#6e7781",
    ExportStatus.TRIGGERED: "#0969da",
    ExportStatus.FINISHED: "#1a7f37",
    ExportStatus.FAILED: "#cf222e",
    ExportStatus.CANCELLED: "#57606a",
    ExportStatus.EXPIRED: "#9a6700",
}
STATUS_HINTS: dict[str, str] = {
    ExportStatus.PENDING: "waiting for a worker",
    ExportStatus.TRIGGERED: "running",
    ExportStatus.FINISHED: "file ready",
    ExportStatus.FAILED: "failed",
    ExportStatus.CANCELLED: "cancelled",
    ExportStatus.EXPIRED: "file gone or run past its deadline",
}


def short_id(export: Export) -> str:
    return str(export.pk)[:8]


def type_label(export_type: str) -> str:
    registered = EXPORT_TYPES.get(export_type)
    return registered.label if registered else export_type


def status_badge(export: Export) -> SafeString:
    """The coloured status; its data attributes tell the list's script which rows to refresh."""
    return format_html(
        '<span class="export-status" data-export-id="{}" data-status="{}" title="{}" style="background:{};'
        "color:#fff;padding:2px 8px;border-radius:9px;font-size:11px;font-weight:600;letter-spacing:.3px;"
        'white-space:nowrap">{}</span>',
        export.pk,
        export.status,
        STATUS_HINTS.get(export.status, ""),
        STATUS_COLOURS.get(export.status, "#6e7781"),
        export.status,
    )


def progress_percent(export: Export) -> int | None:
    """Rows written against the estimate (None while nothing can be said)."""
    if export.status == ExportStatus.FINISHED:
        return 100
    if export.status != ExportStatus.TRIGGERED or not export.row_count:
        return None
    return max(0, min(99, int(100 * export.rows_written / export.row_count)))


def progress_bar(export: Export) -> SafeString | str:
    percent = progress_percent(export)
    if percent is None:
        if export.status == ExportStatus.PENDING:
            return "queued"
        if export.status == ExportStatus.TRIGGERED:
            return "starting…"
        return EMPTY
    colour = STATUS_COLOURS[ExportStatus(export.status)]
    return format_html(
        '<span class="export-progress" title="{} of {} rows" style="display:inline-block;width:80px;height:10px;'
        'background:#d0d7de;border-radius:5px;overflow:hidden;vertical-align:middle">'
        '<span style="display:block;width:{}%;height:100%;background:{}"></span></span> {}%',
        export.rows_written,
        export.row_count if export.row_count is not None else "?",
        percent,
        colour,
        percent,
    )


def rows_text(export: Export) -> str:
    if export.status == ExportStatus.FINISHED and export.row_count is not None:
        return f"{export.row_count:,}"
    if export.status == ExportStatus.TRIGGERED and export.row_count:
        return f"{export.rows_written:,} of ~{export.row_count:,}"
    return f"{export.rows_written:,}" if export.rows_written else EMPTY


def size_text(export: Export) -> str:
    return filesizeformat(export.bytes_written) if export.bytes_written else EMPTY


def timestamp_text(value: datetime | None) -> str:
    """Short and sortable, in the site's time zone: 2026-07-04 18:30."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else EMPTY


def run_duration(export: Export, *, now: datetime | None = None) -> timedelta | None:
    """From the (last) start to the end of the run; up to now while it runs."""
    if export.triggered_at is None:
        return None
    end = export.finished_at or export.failed_at or export.cancelled_at or export.expired_at
    if end is None and export.status == ExportStatus.TRIGGERED:
        end = now or timezone.now()
    return end - export.triggered_at if end is not None and end >= export.triggered_at else None


def duration_text(duration: timedelta | None) -> str:
    if duration is None:
        return EMPTY
    seconds = duration.total_seconds()
    if seconds < 0.1:
        return "< 0.1 s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def storage_key_list(export: Export) -> SafeString | str:
    keys = [key for key in (export.storage_keys or [export.storage_key]) if key]
    if not keys:
        return EMPTY
    items = format_html_join("", "<li><code>{}</code></li>", ((key,) for key in keys))
    return format_html('<ul style="margin:0;padding-left:1.2em">{}</ul>', items)
