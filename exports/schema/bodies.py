"""Schema-only serializers: the error shape, the export object, request and other bodies."""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
)
from rest_framework import serializers

from exports.models import ExpiredReason, ExportStatus, FailureKind
from exports.options import FILTER_NAMES, FORMATS
from exports.types import EXPORT_TYPES
from exports.types.base import OutputShape, Parameter

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
    413: "The body is over `EXPORTSITE_MAX_BODY_BYTES` (`Request body too large.`).",
    415: "The body is not `application/json`.",
    429: "Too many requests (per-user rate) or too many active exports; see `Retry-After`.",
}


def error_response(status: int, description: str = "", example: tuple[str, str] | None = None) -> OpenApiResponse:
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


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {status: error_response(status) for status in statuses}


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
    output = serializers.ChoiceField(choices=[shape.value for shape in OutputShape])
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
