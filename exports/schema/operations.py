"""The per-operation `extend_schema` decorators exports/apis.py puts on its views, and the
simplejwt views' schema."""

from __future__ import annotations

from typing import ClassVar

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)

from exports.schema.bodies import (
    CcpaDeletion,
    Export,
    ExportRequest,
    ExportType,
    TokenCredentials,
    TokenPair,
    TokenRefresh,
    error_response,
    error_responses,
)

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
        400: error_response(400, example=("Campaign not found.", "Campaign 7 not found.")),
        **error_responses(401, 403, 404, 413, 415, 429),
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
        400: error_response(400, example=("Invalid 'limit' value.", "Ensure this value is less than or equal to 500.")),
        **error_responses(401, 403),
        404: error_response(404, example=("Campaign not found.", "Campaign 7 not found.")),
        **error_responses(429),
    },
)

export_retrieve = extend_schema(
    operation_id="campaign_export_retrieve",
    summary="One export (with a freshly signed `path` when FINISHED)",
    tags=["exports"],
    parameters=[_CAMPAIGN_ID, _EXPORT_ID],
    responses={
        200: Export,
        400: error_response(400, "A path id with control characters."),
        **error_responses(401, 403),
        404: error_response(
            404, example=("Export not found.", "Export 5e80f56a-1b0d-44fa-835e-2f0ad588d4f3 not found.")
        ),
        **error_responses(429),
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
    responses={200: CcpaDeletion, **error_responses(400, 401, 403, 404, 429)},
)

export_types_list = extend_schema(
    operation_id="export_types_list",
    summary="The registered export types",
    tags=["exports"],
    responses={200: ExportType(many=True), **error_responses(401, 429)},
)


class _SimplejwtViewSchema(OpenApiViewExtension):
    """simplejwt's views with their schema: drf-spectacular's view_replacement pattern (subclass
    the dynamically loaded view). Subclasses name the view and its POST operation."""

    operation: ClassVar[dict]  # extend_schema's arguments for the view's POST

    def view_replacement(self):
        @extend_schema_view(post=extend_schema(**self.operation))
        class Fixed(self.target_class):  # type: ignore[name-defined]
            pass

        return Fixed


class _TokenObtainViewSchema(_SimplejwtViewSchema):
    target_class = "exports.auth.LoginTokenView"
    operation = dict(
        operation_id="auth_token_obtain",
        summary="Get an access and a refresh token",
        tags=["auth"],
        request=TokenCredentials,
        responses={
            200: TokenPair,
            400: error_response(400, "A missing username or password."),
            401: error_response(
                401,
                "Wrong credentials.",
                example=("Authentication required.", "No active account found with the given credentials"),
            ),
            **error_responses(413, 415, 429),
        },
    )


class _TokenRefreshViewSchema(_SimplejwtViewSchema):
    target_class = "exports.auth.RefreshTokenView"
    operation = dict(
        operation_id="auth_token_refresh",
        summary="Get a new access and refresh token (the refresh token sent is blacklisted)",
        tags=["auth"],
        request=TokenRefresh,
        responses={
            200: TokenPair,
            400: error_response(400, "A missing refresh token."),
            401: error_response(401, "An invalid or expired refresh token."),
            **error_responses(413, 415, 429),
        },
    )
