"""Telling people a job ended: an e-mail to the requester and an optional signed webhook.

Thin wrappers over Django's e-mail backend and an HTTP POST; no business rules. The e-mail
links to the export's page (where a fresh link is made on demand), never to a signed URL.
The webhook body is the export's JSON, signed with HMAC-SHA256 over the exact body bytes:
header `X-Exportsite-Signature: sha256=<hex>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request

from django.core.mail import send_mail
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Exportsite-Signature"


class WebhookFailed(Exception):
    """The receiver did not answer 2xx; the actor retries with backoff."""


def send_export_email(*, to: str, subject: str, context: dict) -> None:
    body = render_to_string("exports/email/export_ended.txt", context)
    send_mail(subject, body, None, [to], fail_silently=False)


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post_webhook(*, url: str, payload: dict, secret: str, timeout: float = 10.0) -> int:
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
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) validated at request
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise WebhookFailed(f"webhook unreachable: {type(exc).__name__}") from exc
    if not 200 <= status < 300:
        raise WebhookFailed(f"webhook answered {status}")
    return status
