"""Request middleware: correlation id from X-Request-ID (or generated), echoed back."""

from __future__ import annotations

import re
import uuid

from exportsite.logging import correlation_id_var

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")


def correlation_id_from_header(value: str | None) -> str:
    """Accept a client-supplied id only if it is short and safe to log; otherwise make one."""
    if value and _SAFE_ID.match(value):
        return value
    return uuid.uuid4().hex


class CorrelationIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        correlation_id = correlation_id_from_header(request.headers.get("X-Request-ID"))
        request.correlation_id = correlation_id
        token = correlation_id_var.set(correlation_id)
        try:
            response = self.get_response(request)
        finally:
            correlation_id_var.reset(token)
        response["X-Request-ID"] = correlation_id
        return response
