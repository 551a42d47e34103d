"""Telling people a job ended: an e-mail to the requester and an optional signed webhook.

Thin wrappers over Django's e-mail backend and an HTTP POST; no business rules. The e-mail
links to the export's page (where a fresh link is made on demand), never to a signed URL.
The webhook body is the export's JSON, signed with HMAC-SHA256 over the exact body bytes:
header `X-Exportsite-Signature: sha256=<hex>`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import urllib.error
import urllib.parse
import urllib.request

from django.core.mail import send_mail
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Exportsite-Signature"


class WebhookFailed(Exception):
    """The receiver did not answer 2xx; the actor retries with backoff."""


class WebhookRefused(Exception):
    """The destination is not allowed (an address inside a private network, or a redirect):
    never sent, never retried."""


def public_address(address: str) -> bool:
    """True for an address on the public internet (not private, loopback, link-local, shared,
    reserved or multicast)."""
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


def webhook_destination_check(url: str) -> None:
    """Refuse a URL whose host resolves to any non-public address (SSRF). Checked right before
    each POST, so a name that changed its address since the request is caught too."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookFailed(f"webhook host not resolved: {type(exc).__name__}") from exc
    refused = sorted({str(info[4][0]) for info in found if not public_address(str(info[4][0]))})
    if refused:
        raise WebhookRefused(f"webhook host resolves to non-public address(es) {', '.join(refused)}")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect could lead anywhere, inside the network too: it is not followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def send_export_email(*, to: str, subject: str, context: dict) -> None:
    body = render_to_string("exports/email/export_ended.txt", context)
    send_mail(subject, body, None, [to], fail_silently=False)


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post_webhook(*, url: str, payload: dict, secret: str, allow_private: bool = False, timeout: float = 10.0) -> int:
    if not allow_private:
        webhook_destination_check(url)
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, secret),
            "User-Agent": "exportsite-webhook/1",
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:  # http(s) only: validated at request
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise WebhookFailed(f"webhook unreachable: {type(exc).__name__}") from exc
    if 300 <= status < 400:
        raise WebhookRefused(f"webhook answered a redirect ({status}); redirects are not followed")
    if not 200 <= status < 300:
        raise WebhookFailed(f"webhook answered {status}")
    return status
