"""HTTP API: parse, call one service or selector, serialize. No logic here."""

from __future__ import annotations

import functools

from django.core import signing
from django.http import FileResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_prometheus.exports import ExportToDjangoView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.selectors import campaign_get_visible
from exports import schema, selectors, storage
from exports.errors import BadRequest, ExportNotFound, InvalidExportType, NotFound, error_body
from exports.health import health_public_report
from exports.inputs import reject_control_characters
from exports.metrics_access import metrics_access_denied
from exports.permissions import CanDeleteForCcpa, CanRequestExports, user_can
from exports.serializers import ExportListQuerySerializer, ExportSerializer
from exports.services import export_request
from exports.services.ccpa import ccpa_delete_user_exports
from exports.types import EXPORT_TYPES, export_type_get


def _context(request) -> dict:
    """Serializer context: where links point and whether this user may have them."""
    return {"base_url": request.build_absolute_uri("/"), "can_download": user_can(request.user, "download")}


def _parse_list_query(query) -> dict:
    serializer = ExportListQuerySerializer(data=query)
    if not serializer.is_valid():
        field, problems = next(iter(serializer.errors.items()))
        raise BadRequest(f"Invalid '{field}' value.", str(problems[0]))
    return serializer.validated_data


class _PathIdsApi(APIView):
    """Path ids (campaign_id, export_id, user_id) without control characters, or 400 naming the
    id; checked after authentication and permission, so anonymous callers still get 401."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        for name, value in kwargs.items():
            reject_control_characters(value=value, name=name)


class CampaignExportsApi(_PathIdsApi):
    permission_classes = [IsAuthenticated, CanRequestExports]

    @schema.export_create
    def post(self, request, campaign_id: str):
        if not isinstance(request.data, dict):
            raise BadRequest("Malformed request body.", "The body must be a JSON object.")
        export, created = export_request(
            campaign_id=campaign_id,
            body=request.data,
            user=request.user,
            correlation_id=getattr(request, "correlation_id", ""),
        )
        body = ExportSerializer(export, context=_context(request)).data
        return Response(body, status=201 if created else 200)

    @schema.export_list
    def get(self, request, campaign_id: str):
        query = _parse_list_query(request.query_params)
        if query.get("exportType") and export_type_get(query["exportType"]) is None:
            raise InvalidExportType(query["exportType"])
        campaign = campaign_get_visible(campaign_id=campaign_id, user=request.user)
        if campaign is None:
            raise NotFound("Campaign not found.", f"Campaign {campaign_id} not found.")
        exports = selectors.export_list(
            user=request.user,
            campaign_id=campaign.pk,
            export_type=query.get("exportType") or None,
            limit=query["limit"],
            offset=query["offset"],
        )
        return Response(ExportSerializer(exports, many=True, context=_context(request)).data)


class CampaignExportDetailApi(_PathIdsApi):
    permission_classes = [IsAuthenticated, CanRequestExports]

    @schema.export_retrieve
    def get(self, request, campaign_id: str, export_id: str):
        export = selectors.export_get(user=request.user, campaign_id=campaign_id, export_id=export_id)
        if export is None:
            raise ExportNotFound(export_id)
        return Response(ExportSerializer(export, context=_context(request)).data)


class CcpaUserExportsApi(_PathIdsApi):
    permission_classes = [IsAuthenticated, CanDeleteForCcpa]

    @schema.ccpa_delete
    def delete(self, request, user_id: str):
        if len(user_id) > 200:
            raise BadRequest("Invalid user id.", "A user id is at most 200 characters.")
        return Response(ccpa_delete_user_exports(user_id=user_id, actor=request.user))


class ExportTypesApi(APIView):
    permission_classes = [IsAuthenticated]

    @schema.export_types_list
    def get(self, request):
        return Response([export_type.describe() for export_type in EXPORT_TYPES.values()])


def _get_only(view):
    """Plain (non-DRF) views answer other methods with the JSON error shape, not HTML."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            response = JsonResponse(
                error_body(405, "Method not allowed.", f"{request.method} is not allowed here."), status=405
            )
            response["Allow"] = "GET, HEAD"
            return response
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapped)


@_get_only
def heartbeat(request):
    """No auth: database, broker and storage, each with a short timeout; ok or fail per check
    (the reasons go to the log)."""
    report = health_public_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


@_get_only
def metrics(request):
    """django-prometheus' exposition, behind the optional token and address allow-list."""
    return metrics_access_denied(request=request) or ExportToDjangoView(request)


def _private(view):
    """The link is a bearer credential and the file personal data: no cache may keep either."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "private, no-store"
        return response

    return wrapped


@_private
@_get_only
def download(request, token: str):
    """Serve a local-storage export file to the holder of a valid, unexpired signed token."""
    try:
        alias, key, filename = storage.download_token_read(token)
    except signing.SignatureExpired:
        return JsonResponse(
            error_body(410, "Download link expired.", "Read the export again (GET) for a fresh link."), status=410
        )
    except (signing.BadSignature, KeyError, ValueError):
        return JsonResponse(error_body(404, "Download not found.", "The download link is invalid."), status=404)
    if not storage.object_exists(alias, key):
        return JsonResponse(error_body(404, "Download not found.", "The file no longer exists."), status=404)
    return FileResponse(storage.object_open(alias, key), as_attachment=True, filename=filename)


def not_found_json(request, exception=None):
    return JsonResponse(error_body(404, "Not found.", f"No route for {request.path}."), status=404)


def server_error_json(request):
    return JsonResponse(error_body(500, "Internal server error.", "An unexpected error occurred."), status=500)
