"""The Export admin: the job list (refreshed while jobs run, through a small JSON status
endpoint), a read-only detail page with its audit trail, the staff actions (actions.py) and the
request page (requesting.py). Who may see and do what comes from exports.permissions."""

from __future__ import annotations

import json
import uuid
from typing import cast

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.http import JsonResponse
from django.urls import path, reverse
from django.utils.html import conditional_escape, format_html

from exports import permissions
from exports.admin import display
from exports.admin.actions import DETAIL_BUTTONS, ExportActionsMixin
from exports.admin.events import ExportEventInline
from exports.admin.requesting import ExportRequestMixin
from exports.models import Export, ExportStatus
from exports.selectors import exports_visible_to
from exports.types import EXPORT_TYPES

STATUS_MAX_IDS = 100
# The list columns the change list's script replaces while jobs run (same methods as the list).
LIVE_COLUMNS = ("status_badge", "progress", "rows", "size", "duration", "download_link")


class ExportTypeFilter(admin.SimpleListFilter):
    title = "type"
    parameter_name = "export_type"

    def lookups(self, request, model_admin):
        return [(key, export_type.label) for key, export_type in EXPORT_TYPES.items()]

    def queryset(self, request, queryset):
        return queryset.filter(export_type=self.value()) if self.value() else queryset


@admin.register(Export)
class ExportAdmin(ExportActionsMixin, ExportRequestMixin, admin.ModelAdmin):
    list_display = (
        "short_id",
        "campaign",
        "type_label",
        "status_badge",
        "requester",
        "progress",
        "rows",
        "size",
        "created",
        "duration",
        "download_link",
    )
    list_display_links = ("short_id",)
    list_filter = ("status", ExportTypeFilter, ("campaign", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("campaign__name", "^id")
    search_help_text = "Campaign name, or an export id (or its first characters)."
    list_select_related = ("campaign", "requester")
    list_per_page = 50
    actions = ("download_selected", "retry_selected", "cancel_selected", "expire_selected")
    inlines = (ExportEventInline,)
    fieldsets = (
        (None, {"fields": ("export_id", "campaign", "type_label", "status_badge", "requester", "correlation_id")}),
        ("Parameters", {"fields": ("parameters_text", "webhook_url")}),
        ("Progress", {"fields": ("progress", "rows", "size", "duration", "attempts", "sha256")}),
        ("Outcome", {"fields": ("error_message", "failure_kind", "expired_reason", "error_payload")}),
        ("Storage", {"fields": ("storage_alias", "storage_keys_list", "file_expires_at")}),
        (
            "Timestamps",
            {
                "fields": (
                    "created_at",
                    "enqueued_at",
                    "triggered_at",
                    "heartbeat_at",
                    "deadline_at",
                    "finished_at",
                    "failed_at",
                    "cancelled_at",
                    "expired_at",
                )
            },
        ),
    )
    # Every fieldset above lists single field names (the stubs also allow tuples of names).
    readonly_fields = tuple(name for _, options in fieldsets for name in cast("tuple[str, ...]", options["fields"]))

    # --- who may do what (exports.permissions) ----------------------------------------------
    def get_queryset(self, request):
        return exports_visible_to(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return permissions.user_can(request.user, "view")

    def has_add_permission(self, request) -> bool:
        return False  # jobs are requested through the request form (export_request)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # expiring (a service) removes files; deleting rows would orphan them

    def get_list_display(self, request):
        if self.has_download_permission(request):
            return self.list_display
        return tuple(name for name in self.list_display if name != "download_link")

    # --- columns and fields ------------------------------------------------------------------
    @admin.display(description="export", ordering="pk")
    def short_id(self, export: Export) -> str:
        return display.short_id(export)

    @admin.display(description="id")
    def export_id(self, export: Export) -> str:
        return str(export.pk)

    @admin.display(description="type", ordering="export_type")
    def type_label(self, export: Export) -> str:
        return display.type_label(export.export_type)

    @admin.display(description="status", ordering="status")
    def status_badge(self, export: Export):
        return display.status_badge(export)

    @admin.display(description="progress")
    def progress(self, export: Export):
        return display.progress_bar(export)

    @admin.display(description="rows", ordering="rows_written")
    def rows(self, export: Export) -> str:
        return display.rows_text(export)

    @admin.display(description="size", ordering="bytes_written")
    def size(self, export: Export) -> str:
        return display.size_text(export)

    @admin.display(description="created", ordering="created_at")
    def created(self, export: Export) -> str:
        return display.timestamp_text(export.created_at)

    @admin.display(description="duration")
    def duration(self, export: Export) -> str:
        return display.duration_text(display.run_duration(export))

    @admin.display(description="file")
    def download_link(self, export: Export):
        if export.status != ExportStatus.FINISHED:
            return display.EMPTY
        return format_html('<a href="{}">Download</a>', reverse("admin:exports_export_download", args=[export.pk]))

    @admin.display(description="parameters")
    def parameters_text(self, export: Export):
        text = json.dumps(export.parameters, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html('<pre style="margin:0;white-space:pre-wrap">{}</pre>', text)

    @admin.display(description="storage key(s)")
    def storage_keys_list(self, export: Export):
        return display.storage_key_list(export)

    # --- pages -------------------------------------------------------------------------------
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("status/", wrap(self.status_view), name="exports_export_status"),
            path("request/", wrap(self.request_view), name="exports_export_request"),
            path("<path:object_id>/download/", wrap(self.download_view), name="exports_export_download"),
            path("<path:object_id>/retry/", wrap(self.retry_view), name="exports_export_retry"),
            path("<path:object_id>/cancel/", wrap(self.cancel_view), name="exports_export_cancel"),
            path("<path:object_id>/expire/", wrap(self.expire_view), name="exports_export_expire"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {"can_request_export": permissions.user_can(request.user, "request"), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        export = self.get_object(request, unquote(object_id))
        buttons = [
            {
                "label": label,
                "url": reverse(f"admin:exports_export_{action}", args=[export.pk]),
                "method": method,
                "confirm": confirm,
            }
            for action, label, method, confirm, statuses in DETAIL_BUTTONS
            if export is not None and export.status in statuses and permissions.user_can(request.user, action)
        ]
        extra = {
            "export_buttons": buttons,
            "export_is_active": bool(export and export.is_active),
            "export_status": export.status if export else "",
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def status_view(self, request):
        """JSON for the change list's script: the live cells of the given (visible) exports."""
        if not self.has_view_permission(request):
            return JsonResponse({"error": "You do not have permission to view exports."}, status=403)
        ids = []
        for value in request.GET.getlist("id")[:STATUS_MAX_IDS]:
            try:
                ids.append(uuid.UUID(value))
            except ValueError:
                continue
        columns = [name for name in LIVE_COLUMNS if name in self.get_list_display(request)]
        exports = self.get_queryset(request).filter(pk__in=ids)
        rows = [
            {
                "id": str(export.pk),
                "status": export.status,
                "active": export.is_active,
                "cells": {name: str(conditional_escape(getattr(self, name)(export))) for name in columns},
            }
            for export in exports
        ]
        return JsonResponse({"exports": rows})
