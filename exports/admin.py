from django.contrib import admin

from exports.models import Export
from exports.selectors import exports_visible_to


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "export_type", "status", "requester", "row_count", "bytes_written", "created_at")
    list_filter = ("status", "export_type")
    search_fields = ("campaign__name", "=id")
    list_select_related = ("campaign", "requester")
    readonly_fields = [field.name for field in Export._meta.fields]

    def get_queryset(self, request):
        return exports_visible_to(request.user).select_related("campaign", "requester")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
