"""OpenAPI description of the API (drf-spectacular): schema-only serializers, the per-operation
`extend_schema` decorators that exports/apis.py puts on its views, the simplejwt views, and a
postprocessing hook for the plain Django views (/heartbeat, /downloads, /metrics) and the
headers every response carries.

Nothing here runs while serving a request: the views serialize with exports/serializers.py,
and these classes only describe what those produce. docs/api.md is the prose contract;
tests/exports/test_openapi.py checks the two agree by fuzzing the live API (schemathesis).
"""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers

from exports.models import ExpiredReason, ExportStatus, FailureKind
from exports.options import FILTER_NAMES, FORMATS
from exports.types import EXPORT_TYPES
from exports.types.base import Parameter

REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,100}$"

# --- The error shape ------------------------------------------------------------------------


class ErrorDetail(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status again.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    payload = serializers.CharField(allow_blank=True, help_text="Details (may be empty).")


class Error(serializers.Serializer):
    """Every API error: `{"error": {"status", "message", "payload"}}`."""

    error = ErrorDetail()


_ERROR_MEANINGS = {
    400: "Invalid request: the message names the problem.",
    401: 'No valid token (or wrong credentials). Sends `WWW-Authenticate: Bearer realm="api"`.',
    403: "Authenticated, but missing the permission (`Invalid user permissions.`).",
    404: "Not found, or not visible to this user (existence is never revealed).",
    410: "The download link has expired.",
    415: "The body is not `application/json`.",
    429: "Too many requests (per-user rate) or too many active exports; see `Retry-After`.",
}


def _error(status: int, description: str = "", example: tuple[str, str] | None = None) -> OpenApiResponse:
    examples = []
    if example:
        examples.append(
            OpenApiExample(
                f"error {status}",
                value={"error": {"status": status, "message": example[0], "payload": example[1]}},
                response_only=True,
                status_codes=[str(status)],
            )
        )
    return OpenApiResponse(Error, description=description or _ERROR_MEANINGS[status], examples=examples)


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {status: _error(status) for status in statuses}


# --- The export object ----------------------------------------------------------------------


class ExportDates(serializers.Serializer):
    created = serializers.DateTimeField()
    triggered = serializers.DateTimeField(required=False, help_text="Last time a worker claimed the job.")
    finished = serializers.DateTimeField(required=False)
    failed = serializers.DateTimeField(required=False)
    cancelled = serializers.DateTimeField(required=False)
    expired = serializers.DateTimeField(required=False)


class ExportProgress(serializers.Serializer):
    rowsWritten = serializers.IntegerField(min_value=0)
    rowsEstimated = serializers.IntegerField(allow_null=True, help_text="null until the upload has started.")
    bytesWritten = serializers.IntegerField(min_value=0)


class ExportError(serializers.Serializer):
    message = serializers.CharField(help_text="For people; an internal error names the correlation id.")
    payload = serializers.CharField(allow_blank=True)
    kind = serializers.ChoiceField(
        choices=FailureKind.values,
        allow_null=True,
        help_text="`data` (will fail again), `transient`, `internal`, or null (e.g. a timeout).",
    )


class Export(serializers.Serializer):
    """An export job. The job's canonical request parameters and options (e.g.
    `includeAllMarkets`, `columns`, `format`, `filters`) are copied into the top level too."""

    id = serializers.UUIDField()
    exportType = serializers.CharField(help_text="A key from `GET /export-types`.")
    campaignId = serializers.CharField()
    campaignName = serializers.CharField()
    date = ExportDates()
    status = serializers.ChoiceField(choices=ExportStatus.values)
    requesterUserId = serializers.CharField(allow_null=True)
    attempts = serializers.IntegerField(min_value=0, help_text="How many times a worker claimed the job.")
    count = serializers.IntegerField(required=False, min_value=0, help_text="FINISHED: data rows (no header).")
    bytes = serializers.IntegerField(required=False, min_value=0, help_text="FINISHED: file size.")
    sha256 = serializers.CharField(required=False, help_text="FINISHED: hex sha256 of the file.")
    key = serializers.CharField(required=False, help_text="FINISHED, one file: the storage key.")
    path = serializers.URLField(
        required=False,
        help_text="FINISHED, one file, and the user may download: a freshly signed, short-lived download URL.",
    )
    keys = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="FINISHED, several files: storage keys."
    )
    progress = ExportProgress(required=False, help_text="TRIGGERED only.")
    error = ExportError(required=False, help_text="FAILED or EXPIRED with a message.")
    expiredReason = serializers.ChoiceField(choices=ExpiredReason.values, required=False)
    correlationId = serializers.CharField(required=False, help_text="The X-Request-ID of the creating request.")


# --- The request body -----------------------------------------------------------------------

_PARAMETER_FIELDS: dict[str, Callable[..., serializers.Field]] = {
    "boolean": lambda **kw: serializers.BooleanField(allow_null=True, **kw),
    "integer": lambda **kw: serializers.IntegerField(**kw),
}


def _type_parameter_fields() -> dict[str, serializers.Field]:
    """One optional body field per parameter name declared by any registered type."""
    users: dict[str, list[str]] = {}
    declared: dict[str, Parameter] = {}
    for export_type in EXPORT_TYPES.values():
        for parameter in export_type.parameters:
            users.setdefault(parameter.name, []).append(export_type.key)
            declared.setdefault(parameter.name, parameter)
    fields: dict[str, serializers.Field] = {}
    for name, parameter in sorted(declared.items()):
        make = _PARAMETER_FIELDS.get(parameter.type, lambda **kw: serializers.CharField(**kw))
        help_text = f"{parameter.description} Used by: {', '.join(users[name])}."
        fields[name] = make(required=False, help_text=help_text)
    return fields


class ExportFilters(serializers.Serializer):
    marketIds = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="Markets of the campaign (non-empty)."
    )
    createdFrom = serializers.CharField(
        required=False, help_text="ISO 8601 timestamp, `now`, or relative `-15m`, `-6h`, `-7d`, `-2w`."
    )
    createdTo = serializers.CharField(required=False, help_text="As `createdFrom`; must be later.")


class ExportRequest(serializers.Serializer):
    """Body of `POST /campaigns/{campaignId}/exports`. Unknown keys are refused (400)."""

    exportType = serializers.ChoiceField(choices=sorted(EXPORT_TYPES), help_text="A key from `GET /export-types`.")
    columns = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        allow_null=True,
        help_text="Single-file types: a subset of the type's columns, in this order.",
    )
    format = serializers.ChoiceField(choices=sorted(FORMATS), required=False, allow_null=True)
    compression = serializers.ChoiceField(choices=["gzip"], required=False, allow_null=True)
    excel = serializers.BooleanField(required=False, allow_null=True, help_text="Excel-friendly csv/tsv.")
    filters = ExportFilters(
        required=False, allow_null=True, help_text=f"Only the type's supported filters ({', '.join(FILTER_NAMES)})."
    )
    webhookUrl = serializers.URLField(
        required=False, allow_null=True, allow_blank=True, help_text="POSTed to when the job ends."
    )

    def get_fields(self):
        fields = super().get_fields()
        for name, field in _type_parameter_fields().items():
            fields.setdefault(name, field)
        return fields


# --- Other bodies ---------------------------------------------------------------------------


class ExportTypeParameter(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField(help_text="JSON type: boolean, string, integer…")
    # Declared serializer fields: DRF's metaclass moves them out of the class attributes, so they
    # do not replace Field.required / Field.label (which the stubs see them override).
    required = serializers.BooleanField()  # type: ignore[assignment]
    description = serializers.CharField(allow_blank=True)


class ExportTypeLimits(serializers.Serializer):
    maxRows = serializers.IntegerField()
    maxBytes = serializers.IntegerField()


class ExportType(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field, see ExportTypeParameter
    description = serializers.CharField(allow_blank=True)
    parameters = ExportTypeParameter(many=True)
    format = serializers.CharField(help_text="File extension (`zip` for ZIP outputs).")
    output = serializers.ChoiceField(choices=["single", "zip", "multi"])
    storage = serializers.CharField(help_text="Storage alias.")
    columns = serializers.ListField(child=serializers.CharField())
    filters = serializers.ListField(child=serializers.CharField())
    options = serializers.ListField(child=serializers.CharField())
    limits = ExportTypeLimits()


class CcpaDeletedCount(serializers.Serializer):
    exports = serializers.IntegerField(min_value=0)
    files = serializers.IntegerField(min_value=0)


class CcpaDeletion(serializers.Serializer):
    deletedCount = CcpaDeletedCount()


class TokenCredentials(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField()


class TokenPair(serializers.Serializer):
    access = serializers.CharField(help_text="Send as `Authorization: Bearer <access>`.")
    refresh = serializers.CharField()


class TokenRefresh(serializers.Serializer):
    refresh = serializers.CharField()


class AccessToken(serializers.Serializer):
    access = serializers.CharField()


# --- Per-operation decorators (used by exports/apis.py) -------------------------------------

_CAMPAIGN_ID = OpenApiParameter(
    "campaign_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The campaign's id (digits)."
)
_EXPORT_ID = OpenApiParameter("export_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The export's UUID.")

export_create = extend_schema(
    operation_id="campaign_exports_create",
    summary="Request an export",
    description=(
        "Creates a PENDING job (201), or returns the active (PENDING or TRIGGERED) job with the same "
        "campaign, type and canonical parameters (200). Checked in this order: token (401), "
        "permission (403), body (400), exportType (400), campaign (400), parameters and options (400), "
        "active-job quota (429)."
    ),
    tags=["exports"],
    parameters=[_CAMPAIGN_ID],
    request=ExportRequest,
    responses={
        201: OpenApiResponse(Export, description="A new job."),
        200: OpenApiResponse(Export, description="The identical active job."),
        400: _error(400, example=("Campaign not found.", "Campaign 7 not found.")),
        **_errors(401, 403, 404, 415, 429),
    },
)

export_list = extend_schema(
    operation_id="campaign_exports_list",
    summary="List a campaign's exports, newest first",
    tags=["exports"],
    parameters=[
        _CAMPAIGN_ID,
        OpenApiParameter(
            "exportType",
            OpenApiTypes.STR,
            description="Only this type (an unknown type is a 400; empty means all).",
        ),
        OpenApiParameter(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
            description="How many exports, 1–500 (default 50).",
        ),
        OpenApiParameter(
            "offset",
            {"type": "integer", "format": "int64", "minimum": 0, "default": 0},
            description="How many to skip (default 0).",
        ),
    ],
    responses={
        200: OpenApiResponse(Export(many=True), description="A bare array (no envelope, no total)."),
        400: _error(400, example=("Invalid 'limit' value.", "Ensure this value is less than or equal to 500.")),
        **_errors(401, 403),
        404: _error(404, example=("Campaign not found.", "Campaign 7 not found.")),
        **_errors(429),
    },
)

export_retrieve = extend_schema(
    operation_id="campaign_export_retrieve",
    summary="One export (with a freshly signed `path` when FINISHED)",
    tags=["exports"],
    parameters=[_CAMPAIGN_ID, _EXPORT_ID],
    responses={
        200: Export,
        **_errors(401, 403),
        404: _error(404, example=("Export not found.", "Export 5e80f56a-1b0d-44fa-835e-2f0ad588d4f3 not found.")),
        **_errors(429),
    },
)

ccpa_delete = extend_schema(
    operation_id="ccpa_user_exports_delete",
    summary="Delete a fan's exports (CCPA)",
    description=(
        "Deletes the files and records of every non-exempt export of the campaigns the fan entered; "
        "running jobs are cancelled first. Idempotent: a repeat finds nothing. Needs `exports.ccpa_delete`."
    ),
    tags=["privacy"],
    parameters=[
        OpenApiParameter("user_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The fan's global user id.")
    ],
    responses={200: CcpaDeletion, **_errors(400, 401, 403, 404, 429)},
)

export_types_list = extend_schema(
    operation_id="export_types_list",
    summary="The registered export types",
    tags=["exports"],
    responses={200: ExportType(many=True), **_errors(401, 429)},
)


class _TokenObtainViewSchema(OpenApiViewExtension):
    target_class = "rest_framework_simplejwt.views.TokenObtainPairView"

    def view_replacement(self):
        @extend_schema_view(
            post=extend_schema(
                operation_id="auth_token_obtain",
                summary="Get an access and a refresh token",
                tags=["auth"],
                request=TokenCredentials,
                responses={
                    200: TokenPair,
                    400: _error(400, "A missing username or password."),
                    401: _error(
                        401,
                        "Wrong credentials.",
                        example=("Authentication required.", "No active account found with the given credentials"),
                    ),
                    **_errors(415, 429),
                },
            )
        )
        # drf-spectacular's view_replacement pattern: subclass the (dynamically loaded) view.
        class Fixed(self.target_class):  # type: ignore[name-defined]
            pass

        return Fixed


class _TokenRefreshViewSchema(OpenApiViewExtension):
    target_class = "rest_framework_simplejwt.views.TokenRefreshView"

    def view_replacement(self):
        @extend_schema_view(
            post=extend_schema(
                operation_id="auth_token_refresh",
                summary="Get a new access token (refresh tokens are not rotated)",
                tags=["auth"],
                request=TokenRefresh,
                responses={
                    200: AccessToken,
                    400: _error(400, "A missing refresh token."),
                    401: _error(401, "An invalid or expired refresh token."),
                    **_errors(415, 429),
                },
            )
        )
        # drf-spectacular's view_replacement pattern: subclass the (dynamically loaded) view.
        class Fixed(self.target_class):  # type: ignore[name-defined]
            pass

        return Fixed


# --- Postprocessing: plain Django views and the headers of every response -------------------

_HEALTH_SCHEMA = {
    "type": "object",
    "description": "`status` is `fail` when any check failed; `failed` names those checks.",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "fail"]},
        "failed": {"type": "array", "items": {"type": "string", "enum": ["database", "broker", "storage"]}},
        "checks": {
            "type": "object",
            "properties": {
                name: {"$ref": "#/components/schemas/HealthCheck"} for name in ("database", "broker", "storage")
            },
            "required": ["database", "broker", "storage"],
        },
    },
    "required": ["status", "failed", "checks"],
}
_HEALTH_CHECK_SCHEMA = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "fail"]},
        "ms": {"type": "number", "description": "How long the check took (or has been waiting)."},
        "backend": {"type": "string", "description": "e.g. postgresql, redis, in-process, s3, local."},
        "error": {"type": "string", "description": "Why it failed (only when `status` is `fail`)."},
    },
    "required": ["status", "ms"],
}


def _error_response(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _plain_paths() -> dict:
    health = {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}
    return {
        "/heartbeat": {
            "get": {
                "operationId": "heartbeat",
                "summary": "Health: database, broker and storage",
                "description": (
                    "Runs the three checks in parallel, each bounded by about 3 s, and names the ones "
                    "that failed. The in-memory broker (no `DRAMATIQ_BROKER_URL`) reports `in-process`."
                ),
                "tags": ["operations"],
                "security": [],
                "responses": {
                    "200": {"description": "Every check passed.", "content": health},
                    "503": {"description": "At least one check failed (the same report).", "content": health},
                },
            }
        },
        "/downloads/{token}": {
            "get": {
                "operationId": "download",
                "summary": "Download a file from local-folder storage",
                "description": "The `path` of a FINISHED export, when its storage is a local folder. "
                "Holding the signed, expiring link is the permission; no token header is needed.",
                "tags": ["downloads"],
                "security": [],
                "parameters": [
                    {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "The file, as an attachment.",
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "404": _error_response("Invalid link, or the file no longer exists."),
                    "410": _error_response("The link has expired: read the export again for a fresh one."),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (text exposition format)",
                "tags": ["operations"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "HTTP, process and export-job metrics of the answering process.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }


_REQUEST_ID_PARAMETER = {
    "name": "X-Request-ID",
    "in": "header",
    "required": False,
    "description": "Correlation id to keep (1–100 of `A–Z a–z 0–9 . _ : -`); otherwise one is generated.",
    "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN},
}
_REQUEST_ID_HEADER = {
    "description": "The correlation id of this request (the client's, when valid).",
    "schema": {"type": "string"},
    "required": True,
}


def add_plain_django_views(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: document the non-DRF views and the X-Request-ID,
    WWW-Authenticate and Retry-After headers; the export request body refuses unknown keys."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Health"] = _HEALTH_SCHEMA
    schemas["HealthCheck"] = _HEALTH_CHECK_SCHEMA
    if "ExportRequest" in schemas:
        schemas["ExportRequest"]["additionalProperties"] = False
    result.setdefault("paths", {}).update(_plain_paths())
    for operations in result["paths"].values():
        for operation in operations.values():
            operation.setdefault("parameters", []).append(dict(_REQUEST_ID_PARAMETER))
            for status, response in operation.get("responses", {}).items():
                headers = response.setdefault("headers", {})
                headers["X-Request-ID"] = dict(_REQUEST_ID_HEADER)
                if status == "401":
                    headers["WWW-Authenticate"] = {"schema": {"type": "string"}, "required": True}
                if status == "429":
                    headers["Retry-After"] = {"schema": {"type": "string"}, "description": "Seconds to wait."}
    return result
