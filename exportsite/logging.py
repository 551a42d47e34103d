"""JSON-lines logging with a correlation id carried from the request into the worker, and the
one redaction of `/downloads/<token>` paths (a download token is a bearer credential)."""

from __future__ import annotations

import contextvars
import json
import logging
import re
from datetime import UTC, datetime

correlation_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")

_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "correlation_id"}

# A token runs to the next path, query or quoting boundary; percent-encoded forms included.
_DOWNLOAD_TOKEN = re.compile(r"(/downloads/)[^/?#\s\"'<>]+")
REDACTED = "<redacted>"


def redact_paths(text: str) -> str:
    """`text` with every `/downloads/<token>` replaced by `/downloads/<redacted>`."""
    if "/downloads/" not in text:
        return text
    return _DOWNLOAD_TOKEN.sub(r"\1" + REDACTED, text)


class RedactDownloadTokensFilter(logging.Filter):
    """Rewrites a record's message so no download token reaches a handler (django.request's
    "Not Found: /downloads/…", runserver's request lines, gunicorn's "Error handling request")."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the handler's problem, not ours
            return True
        redacted = redact_paths(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class CorrelationIdFilter(RedactDownloadTokensFilter):
    """The console handler's filter (settings.LOGGING): adds the correlation id, and redacts
    download tokens, so every line the handler writes is safe."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "correlation_id", ""):
            record.correlation_id = correlation_id_var.get()
        return super().filter(record)


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, event and the `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", "") or None,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        # Extras (django.request's `request` repr) and tracebacks can carry the path too.
        return redact_paths(json.dumps(payload, default=str, ensure_ascii=False))
