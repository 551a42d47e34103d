"""The audit trail in the admin: who requested, downloaded, retried, cancelled or expired what."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from exports import permissions
from exports.models import ExportEvent


class ReadOnlyAuditMixin:
    """Audit events are written by services only; in the admin they are read, never edited."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return permissions.user_can(request.user, "view_audit")


class ExportEventInline(ReadOnlyAuditMixin, admin.TabularInline):
    model = ExportEvent
    fk_name = "export"
    fields = ("at", "action", "actor", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "audit event"
    verbose_name_plural = "Audit trail"


@admin.register(ExportEvent)
class ExportEventAdmin(ReadOnlyAuditMixin, admin.ModelAdmin):
    list_display = ("at", "action", "export_link", "campaign_id", "actor", "detail")
    list_filter = ("action", "at")
    search_fields = ("export_ref", "actor__username")
    search_help_text = "Export id (or its first characters) or user name."
    list_select_related = ("actor",)
    fields = ("at", "action", "export_link", "export_ref", "campaign_id", "actor", "detail")
    readonly_fields = fields
    show_full_result_count = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(campaign_id__in=permissions.visible_campaigns(request.user).values("pk"))

    @admin.display(description="export", ordering="export_ref")
    def export_link(self, event: ExportEvent):
        if event.export_id is None:
            return f"{event.export_ref[:8]} (deleted)" if event.export_ref else "—"
        url = reverse("admin:exports_export_change", args=[event.export_id])
        return format_html('<a href="{}">{}</a>', url, str(event.export_id)[:8])
