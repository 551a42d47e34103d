"""Which errors are worth another attempt (transient) and which are not."""

from __future__ import annotations

import botocore.exceptions
from django.db import InterfaceError, OperationalError

# NoSuchUpload: the open upload vanished (storage restarted, or cleaned up); the next attempt
# sees it is gone and starts the file over. NoSuchBucket: the storage answers but has lost or not
# yet set up its bucket (an S3-compatible store restarting empty, a bucket being recreated): a
# storage problem, not a bug, so it is retried and, if it lasts, reported as storage unavailable.
_TRANSIENT_S3_CODES = {
    "NoSuchBucket",
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
