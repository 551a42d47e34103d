"""Domain exceptions with user-facing words, and the one renderer of the orig error shape.

API errors render as {"error": {"status", "message", "payload"}} (orig wording where the old
service had one). Worker-side errors (ExportFailure and friends) end a job instead.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from exportsite.conf import export_settings

logger = logging.getLogger(__name__)


class ApiError(Exception):
    status = 400

    def __init__(self, message: str, payload: str = "", *, status: int | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.payload = payload
        if status is not None:
            self.status = status
        self.headers = headers or {}


class BadRequest(ApiError):
    status = 400


class InvalidExportType(BadRequest):
    def __init__(self, export_type: object):
        super().__init__(f"Invalid export type: '{export_type}'.", "The 'exportType' value could not be resolved.")


class CampaignNotFound(BadRequest):
    def __init__(self, campaign_id: object):
        super().__init__("Campaign not found.", f"Campaign {campaign_id} not found.")


class PromotersNotFound(BadRequest):
    def __init__(self, campaign_id: object):
        super().__init__("Promoters not found.", f"Campaign {campaign_id} has no promoters.")


class MissingPermissions(ApiError):
    status = 403

    def __init__(self, actions: list[str]):
        super().__init__("Invalid user permissions.", f"Missing {', '.join(actions)} permissions.")


class NotAuthenticated(ApiError):
    status = 401


class QuotaExceeded(ApiError):
    status = 429


class NotFound(ApiError):
    status = 404


class ExportNotFound(NotFound):
    def __init__(self, export_id: object):
        super().__init__("Export not found.", f"Export {export_id} not found.")


# --- Worker-side: these end a running job -----------------------------------------------------


class ExportFailure(Exception):
    """A permanent, data-caused failure; `message` is shown to campaign admins as is."""

    def __init__(self, message: str, payload: str = ""):
        super().__init__(message)
        self.message = message
        self.payload = payload


class ExportStopped(Exception):
    """The job left TRIGGERED while running (cancelled or expired by someone else)."""


class ExportDeadlineExceeded(Exception):
    """The job ran past its type's time limit."""


def error_body(status: int, message: str, payload: str = "") -> dict:
    return {"error": {"status": status, "message": message, "payload": payload}}


def body_too_big_body() -> dict:
    """413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE (the middleware's and the views' answer)."""
    limit = export_settings().max_body_bytes
    return error_body(413, "Request body too large.", f"The request body must be at most {limit} bytes.")


# A PostgreSQL restart takes a few seconds; clients may ask again after this many.
DATABASE_RETRY_AFTER_SECONDS = 5


def is_database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached (down, restarting, out of connections), as opposed to a
    query that is wrong (those stay 500s)."""
    return isinstance(exc, OperationalError | InterfaceError)


def database_unavailable() -> tuple[dict, dict[str, str]]:
    """The 503 body and headers while the database is unavailable (the middleware's and the
    API's answer). The error's text stays out of the answer and the logs: it names hosts."""
    logger.warning("database unavailable: 503")
    body = error_body(503, "Service unavailable.", "The database is unavailable; try again in a few seconds.")
    return body, {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}


def _drf_detail_text(detail: object) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_drf_detail_text(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_drf_detail_text(item) for item in detail)
    return str(detail)


_GENERIC_MESSAGES = {
    400: "Invalid request.",
    404: "Not found.",
    405: "Method not allowed.",
    406: "Not acceptable.",
    415: "Unsupported media type.",
    429: "Too many requests.",
}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler: every API error leaves in the orig error shape."""
    if isinstance(exc, ApiError):
        return Response(error_body(exc.status, exc.message, exc.payload), status=exc.status, headers=exc.headers)
    if isinstance(exc, RequestDataTooBig):  # read by a parser; the middleware usually answers first
        return Response(body_too_big_body(), status=413)
    if isinstance(exc, Http404):
        return Response(error_body(404, "Not found.", str(exc)), status=404)
    if is_database_unavailable(exc):
        body, headers = database_unavailable()
        return Response(body, status=503, headers=headers)
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        detail = exc.detail.get("detail", exc.detail) if isinstance(exc.detail, dict) else exc.detail
        response = Response(error_body(401, "Authentication required.", _drf_detail_text(detail)), status=401)
        response["WWW-Authenticate"] = getattr(exc, "auth_header", None) or 'Bearer realm="api"'
        return response
    if isinstance(exc, drf_exceptions.PermissionDenied):
        return Response(error_body(403, "Invalid user permissions.", _drf_detail_text(exc.detail)), status=403)
    if isinstance(exc, drf_exceptions.ParseError):
        return Response(error_body(400, "Malformed request body.", _drf_detail_text(exc.detail)), status=400)
    if isinstance(exc, drf_exceptions.APIException):
        status = exc.status_code
        message = _GENERIC_MESSAGES.get(status, "Request failed.")
        response = Response(error_body(status, message, _drf_detail_text(exc.detail)), status=status)
        if isinstance(exc, drf_exceptions.Throttled):
            wait = exc.wait  # type: ignore[attr-defined]  # set by Throttled.__init__; missing from the DRF stubs
            if wait is not None:
                response["Retry-After"] = str(int(wait))
        return response
    logger.exception("unhandled API error", extra={"view": type(context.get("view")).__name__})
    return Response(error_body(500, "Internal server error.", "An unexpected error occurred."), status=500)
