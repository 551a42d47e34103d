from django.contrib import admin

from campaigns.models import Campaign, Code, Entry, Fan, Market, Promoter, ScoringRecord, SmsWave
from campaigns.selectors import campaigns_visible_to

# The export actions a campaign page links to, as Django permissions: campaigns never imports
# exports, so the names are spelled out (exports.permissions.ACTIONS grants the same ones).
VIEW_EXPORTS = "exports.view_export"
REQUEST_EXPORT = "exports.request_export"


def _user_has(user, permission: str) -> bool:
    return bool(user.is_authenticated and user.is_active and user.has_perm(permission))


class CampaignScopedAdmin(admin.ModelAdmin):
    """Staff see only rows of campaigns whose access groups they belong to (campaigns_visible_to,
    the rule the export API and admin use too)."""

    campaign_path = "campaign"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        visible = campaigns_visible_to(request.user).values("pk")
        return queryset.filter(**{f"{self.campaign_path}__in": visible})


class MarketInline(admin.TabularInline):
    model = Market
    extra = 0
    fields = ("name", "city", "state", "country", "event_date", "event_ids", "venue_name")


@admin.register(Campaign)
class CampaignAdmin(CampaignScopedAdmin):
    campaign_path = "pk"
    list_display = ("id", "name", "artist_name", "tour_name", "is_fan_club", "is_lnaa", "created_at")
    search_fields = ("name", "artist_name", "tour_name")
    list_filter = ("is_fan_club", "is_lnaa")
    filter_horizontal = ("promoters", "access_groups")
    inlines = [MarketInline]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        links = {
            "can_view_exports": _user_has(request.user, VIEW_EXPORTS),
            "can_request_export": _user_has(request.user, REQUEST_EXPORT),
        }
        return super().change_view(request, object_id, form_url, {**links, **(extra_context or {})})


@admin.register(Market)
class MarketAdmin(CampaignScopedAdmin):
    list_display = ("id", "name", "campaign", "city", "state", "country", "event_date")
    list_select_related = ("campaign",)
    search_fields = ("name", "city")
    list_filter = ("country",)


@admin.register(Fan)
class FanAdmin(admin.ModelAdmin):
    list_display = ("id", "tm_id", "member_id", "global_user_id")
    search_fields = ("tm_id", "member_id", "global_user_id")

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        visible = campaigns_visible_to(request.user).values("pk")
        return queryset.filter(entries__campaign__in=visible).distinct()


@admin.register(Entry)
class EntryAdmin(CampaignScopedAdmin):
    list_display = ("id", "campaign", "fan", "market", "locale", "created_at")
    list_select_related = ("campaign", "fan", "market")
    raw_id_fields = ("fan", "market", "additional_markets", "promoter_opt_ins")
    list_filter = ("allow_marketing", "allow_livenation", "allow_sms", "locale")
    show_full_result_count = False


@admin.register(Promoter)
class PromoterAdmin(admin.ModelAdmin):
    list_display = ("id", "name")
    search_fields = ("name",)


@admin.register(Code)
class CodeAdmin(CampaignScopedAdmin):
    list_display = ("id", "value", "campaign", "market", "date_key", "status", "assigned_at")
    list_filter = ("status",)
    raw_id_fields = ("assigned_fan", "market")
    show_full_result_count = False


@admin.register(ScoringRecord)
class ScoringRecordAdmin(CampaignScopedAdmin):
    list_display = ("id", "campaign", "fan", "market", "score", "rank", "selected", "locale")
    list_filter = ("selected",)
    raw_id_fields = ("fan", "market", "codes")
    show_full_result_count = False


@admin.register(SmsWave)
class SmsWaveAdmin(CampaignScopedAdmin):
    list_display = ("id", "campaign", "scheduled_at")
    raw_id_fields = ("fans",)
