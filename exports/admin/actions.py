"""The staff actions on exports (download, retry, cancel, expire), per export and in bulk: each
one service call, checked against exports.permissions, its outcome told with an admin message."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from exports import permissions
from exports.admin import display
from exports.errors import ApiError
from exports.models import ACTIVE_STATUSES, Export, ExportStatus
from exports.services.actions import export_cancel, export_download_links, export_expire, export_retry
from exportsite.conf import export_settings

# (action, button label, HTTP method, confirmation, statuses it is offered in). The statuses only
# decide which buttons the detail page shows; the services are the authority and say why not.
DETAIL_BUTTONS = (
    ("download", "Download", "get", "", (ExportStatus.FINISHED,)),
    ("retry", "Retry", "post", "", (ExportStatus.FAILED, ExportStatus.EXPIRED, ExportStatus.CANCELLED)),
    ("cancel", "Cancel", "post", "Cancel this export?", ACTIVE_STATUSES),
    ("expire", "Expire", "post", "Expire this export and delete its file(s)?", (ExportStatus.FINISHED,)),
)


def correlation_id(request) -> str:
    return getattr(request, "correlation_id", "")


def export_link(export: Export):
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:exports_export_change", args=[export.pk]), display.short_id(export)
    )


if TYPE_CHECKING:
    # Mixed into ExportAdmin: type-check against the ModelAdmin it always extends.
    _AdminBase = admin.ModelAdmin[Export]
else:
    _AdminBase = object


class ExportActionsMixin(_AdminBase):
    """For ExportAdmin: the actions' permissions, views, bulk actions and messages."""

    def has_download_permission(self, request) -> bool:
        return permissions.user_can(request.user, "download")

    def has_retry_permission(self, request) -> bool:
        return permissions.user_can(request.user, "retry")

    def has_cancel_permission(self, request) -> bool:
        return permissions.user_can(request.user, "cancel")

    def has_expire_permission(self, request) -> bool:
        return permissions.user_can(request.user, "expire")

    def download_view(self, request, object_id):
        export, refusal = self._object_for_action(request, object_id, "download", method="GET")
        if refusal is not None:
            return refusal
        links = self._links(request, export)
        if not links:
            return HttpResponseRedirect(reverse("admin:exports_export_change", args=[export.pk]))
        if len(links) == 1:
            return HttpResponseRedirect(links[0][1])
        return self._download_page(request, [(export, links)])

    def retry_view(self, request, object_id):
        export, refusal = self._object_for_action(request, object_id, "retry")
        if refusal is not None:
            return refusal
        new_export = self._retry_one(request, export)
        return HttpResponseRedirect(reverse("admin:exports_export_change", args=[(new_export or export).pk]))

    def cancel_view(self, request, object_id):
        export, refusal = self._object_for_action(request, object_id, "cancel")
        if refusal is not None:
            return refusal
        self._cancel_one(request, export)
        return HttpResponseRedirect(reverse("admin:exports_export_change", args=[export.pk]))

    def expire_view(self, request, object_id):
        export, refusal = self._object_for_action(request, object_id, "expire")
        if refusal is not None:
            return refusal
        self._expire_one(request, export)
        return HttpResponseRedirect(reverse("admin:exports_export_change", args=[export.pk]))

    # --- bulk actions (the change list's action menu; shown only with the permission) -------
    @admin.action(description="Download selected exports", permissions=["download"])
    def download_selected(self, request, queryset):
        files = [
            (export, links) for export in self._selected(request, queryset) if (links := self._links(request, export))
        ]
        if len(files) == 1 and len(files[0][1]) == 1:
            return HttpResponseRedirect(files[0][1][0][1])
        return self._download_page(request, files) if files else None

    @admin.action(description="Retry selected exports", permissions=["retry"])
    def retry_selected(self, request, queryset):
        for export in self._selected(request, queryset):
            self._retry_one(request, export)

    @admin.action(description="Cancel selected exports", permissions=["cancel"])
    def cancel_selected(self, request, queryset):
        for export in self._selected(request, queryset):
            self._cancel_one(request, export)

    @admin.action(description="Expire selected exports (deletes their files)", permissions=["expire"])
    def expire_selected(self, request, queryset):
        for export in self._selected(request, queryset):
            self._expire_one(request, export)

    def _selected(self, request, queryset) -> list[Export]:
        """The chosen exports the user can see (the queryset is already scoped to those)."""
        exports = list(queryset)
        if not exports:
            self.message_user(request, "None of the selected exports exist or are visible to you.", messages.WARNING)
        return exports

    # --- one action on one export: a service call and its message ---------------------------
    def _object_for_action(self, request, object_id, action: str, *, method: str = "POST"):
        """(export, None) when the user may do `action` on it, else (None, the refusal response)."""
        if request.method != method:
            return None, HttpResponseNotAllowed([method])
        if not self.has_view_permission(request):
            raise PermissionDenied
        export = self.get_object(request, unquote(object_id))
        if export is None:  # missing, or of a campaign the user cannot see: the same answer
            # A private ModelAdmin helper (Django's own "does not exist" message), not in django-stubs.
            return None, self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        if not permissions.user_can(request.user, action):
            self.message_user(request, f"You do not have permission to {action} exports.", messages.ERROR)
            return None, HttpResponseRedirect(reverse("admin:exports_export_change", args=[export.pk]))
        return export, None

    def _refused(self, request, action: str, export: Export, error: ApiError) -> None:
        text = format_html("Could not {} export {}: {}", action, export_link(export), error.message)
        self.message_user(request, text, messages.ERROR)

    def _retry_one(self, request, export: Export) -> Export | None:
        try:
            new_export, created = export_retry(
                export=export, actor=request.user, correlation_id=correlation_id(request)
            )
        except ApiError as error:
            self._refused(request, "retry", export, error)
            return None
        if created:
            text = format_html("Export {} retried as new job {}.", export_link(export), export_link(new_export))
            self.message_user(request, text, messages.SUCCESS)
        else:
            text = format_html(
                "Export {} was not retried: an identical export is already running: {}.",
                export_link(export),
                export_link(new_export),
            )
            self.message_user(request, text, messages.WARNING)
        return new_export

    def _cancel_one(self, request, export: Export) -> None:
        try:
            export_cancel(export=export, actor=request.user)
        except ApiError as error:
            self._refused(request, "cancel", export, error)
            return
        self.message_user(request, format_html("Export {} cancelled.", export_link(export)), messages.SUCCESS)

    def _expire_one(self, request, export: Export) -> None:
        try:
            export_expire(export=export, actor=request.user)
        except ApiError as error:
            self._refused(request, "expire", export, error)
            return
        text = format_html("Export {} expired; its file(s) were deleted.", export_link(export))
        self.message_user(request, text, messages.SUCCESS)

    def _links(self, request, export: Export) -> list[tuple[str, str]]:
        try:
            links = export_download_links(export=export, actor=request.user, base_url=request.build_absolute_uri("/"))
        except ApiError as error:
            self._refused(request, "download", export, error)
            return []
        links = [(name, url) for name, url in links if url]
        if not links:
            text = format_html("Export {} has no file to download.", export_link(export))
            self.message_user(request, text, messages.ERROR)
        return links

    def _download_page(self, request, files: list[tuple[Export, list[tuple[str, str]]]]):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Download export files",
            "files": files,
            "ttl_minutes": max(1, export_settings().download_url_ttl_seconds // 60),
        }
        return TemplateResponse(request, "admin/exports/export/download_links.html", context)
