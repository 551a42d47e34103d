from django.urls import path

from exports import apis

app_name = "exports"

urlpatterns = [
    path("campaigns/<str:campaign_id>/exports", apis.CampaignExportsApi.as_view(), name="campaign-exports"),
    path(
        "campaigns/<str:campaign_id>/exports/<str:export_id>",
        apis.CampaignExportDetailApi.as_view(),
        name="campaign-export-detail",
    ),
    path("ccpa/users/<str:user_id>", apis.CcpaUserExportsApi.as_view(), name="ccpa-user-exports"),
    path("export-types", apis.ExportTypesApi.as_view(), name="export-types"),
    path("downloads/<str:token>", apis.download, name="download"),
]
