"""The client's address, the one way every limit reads it (DRF throttles, the login throttle,
django-axes), so they all agree and a client cannot choose it."""

from __future__ import annotations

from django.http import HttpRequest

from exportsite.conf import export_settings


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR with no trusted proxies; else the address the outermost trusted proxy saw:
    X-Forwarded-For's entry that many places from the right, as DRF's NUM_PROXIES reads it."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = export_settings().trusted_proxies
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies == 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    if not addresses:
        return remote
    return addresses[-min(proxies, len(addresses))]
