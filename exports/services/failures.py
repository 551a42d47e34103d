"""Which errors are worth another attempt (transient) and which are not."""

from __future__ import annotations

import botocore.exceptions
from django.db import InterfaceError, OperationalError

# NoSuchUpload: the open upload vanished (storage restarted, or cleaned up); the next attempt
# sees it is gone and starts the file over.
_TRANSIENT_S3_CODES = {
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "Throttling",
    "NoSuchUpload",
}


def is_transient(exc: BaseException) -> bool:
    """Database connection problems, S3 5xx/timeouts/connection errors, broker outages."""
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, botocore.exceptions.ConnectionError | botocore.exceptions.HTTPClientError):
        return True
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or error.get("Code") in _TRANSIENT_S3_CODES
    try:
        import redis.exceptions

        if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
            return True
    except ImportError:  # pragma: no cover - redis is a pinned dependency
        pass
    return False
