"""Request middleware: correlation id from X-Request-ID (or generated), echoed back; the 413
answer for a body over DATA_UPLOAD_MAX_MEMORY_SIZE; and the 503 answer while the database is
unavailable (for views outside DRF: the API's exception handler gives DRF views the same); gzip
for JSON answers."""

from __future__ import annotations

import re
import uuid

from django.http import HttpRequest, JsonResponse
from django.middleware.gzip import GZipMiddleware

from exports import db_retry
from exports.errors import body_too_big_body, database_unavailable, is_database_unavailable
from exportsite import tracing
from exportsite.conf import export_settings
from exportsite.logging import correlation_id_var

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")


def correlation_id_from_header(value: str | None) -> str:
    """Accept a client-supplied id only if it is short and safe to log; otherwise make one."""
    if value and _SAFE_ID.match(value):
        return value
    return uuid.uuid4().hex


def body_too_big(request: HttpRequest) -> bool:
    """The declared body is over Django's limit. Django checks the same Content-Length when the
    body is first read, but then raises RequestDataTooBig, which it answers as 400 (or a view as
    500); checking first gives every route, DRF or not, the same 413. No route takes file uploads,
    so the whole body counts."""
    limit = export_settings().max_body_bytes
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False  # Django reads no body then
    return limit is not None and length > limit


class CorrelationIdMiddleware:
    """First of the project's middleware: every response, the 413 included, carries the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        correlation_id = correlation_id_from_header(request.headers.get("X-Request-ID"))
        request.correlation_id = correlation_id
        tracing.annotate(correlation_id=correlation_id)  # on the request's span, when tracing is on
        token = correlation_id_var.set(correlation_id)
        try:
            # A request does not wait out a database outage (its client retries after the 503).
            with db_retry.without_waiting():
                response = (
                    JsonResponse(body_too_big_body(), status=413)
                    if body_too_big(request)
                    else self.get_response(request)
                )
        finally:
            correlation_id_var.reset(token)
        response["X-Request-ID"] = correlation_id
        return response

    def process_exception(self, request, exception):
        """A view outside DRF (admin, downloads) that lost the database answers 503, not 500."""
        if not is_database_unavailable(exception):
            return None
        body, headers = database_unavailable()
        return JsonResponse(body, status=503, headers=headers)


class JsonGZipMiddleware(GZipMiddleware):
    """gzip for JSON answers over `_GZIP_MIN_BYTES` (the old service's koa-compress did the same
    for every answer over 1 KiB), when the client accepts it. Nothing else is compressed: the
    downloads are often compressed already (ZIP, .gz) and are streamed, and the token answers
    hold secrets next to what the caller sent (BREACH: Django pads every gzip stream with random
    bytes too, but a token never needs compressing)."""

    def process_response(self, request, response):
        content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
        json = content_type == "application/json" or content_type.endswith("+json")
        if (
            not json
            or response.streaming
            or len(response.content) < _GZIP_MIN_BYTES
            or request.path.startswith(_NEVER_GZIPPED)
        ):
            return response
        return super().process_response(request, response)


_GZIP_MIN_BYTES = 1024
_NEVER_GZIPPED = ("/auth/",)
