from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from exports import apis, auth

urlpatterns = [
    path("", include("exports.urls")),
    path("auth/token", auth.LoginTokenView.as_view(), name="token-obtain"),
    path("auth/token/refresh", auth.RefreshTokenView.as_view(), name="token-refresh"),
    path("heartbeat", apis.heartbeat, name="heartbeat"),
    # django-prometheus' view and URL name, behind the optional metrics token / allow-list.
    path("metrics", apis.metrics, name="prometheus-django-metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]

handler404 = "exports.apis.not_found_json"
handler500 = "exports.apis.server_error_json"
