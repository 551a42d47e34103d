"""Export behaviour: the COPY fast path, paging, links, time limits, reliability, retention,
quotas and webhooks (docs/operations.md, "Environment variables")."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from exportsite.environment import env_bool, env_int, env_int_map, env_str

# PostgreSQL only: let the database format rows and stream them with COPY (exports/engine/copy/).
EXPORTS_COPY_FAST_PATH = env_bool("EXPORTS_COPY_FAST_PATH", True)
# Fast path: COPY batches read at once, each on its own database connection (one CPU core of the
# database each). Every running export then holds 1 + this many connections.
EXPORTS_COPY_READERS = env_int("EXPORTS_COPY_READERS", 2, minimum=1, maximum=8)
EXPORTS_PAGE_SIZE = env_int("EXPORTS_PAGE_SIZE", 5000, minimum=10, maximum=100_000)
# Deflate level of ZIP exports. 1 by measurement (bench/README.md, "ZIP levels"): about 2.4x the
# speed of level 6 for a file about a quarter bigger; 0 stores the deflate stream uncompressed.
EXPORTS_ZIP_LEVEL = env_int("EXPORTS_ZIP_LEVEL", 1, minimum=0, maximum=9)
EXPORTS_DOWNLOAD_URL_TTL_SECONDS = env_int("EXPORTS_DOWNLOAD_URL_TTL_SECONDS", 900, minimum=10)
EXPORTS_DEFAULT_TIME_LIMIT_SECONDS = env_int("EXPORTS_TIME_LIMIT_SECONDS", 3600, minimum=5)
EXPORTS_PROGRESS_INTERVAL_SECONDS = env_int("EXPORTS_PROGRESS_INTERVAL_SECONDS", 2, minimum=1)
EXPORTS_PUBLIC_BASE_URL = env_str("EXPORTS_PUBLIC_BASE_URL", "")
# Reliability: retries, stuck-job detection, periodic maintenance, retention.
EXPORTS_MAX_ATTEMPTS = env_int("EXPORTS_MAX_ATTEMPTS", 3, minimum=1, maximum=20)
EXPORTS_RETRY_BACKOFF_SECONDS = env_int("EXPORTS_RETRY_BACKOFF_SECONDS", 10, minimum=0)
# Failover: every worker process beats for its running jobs every LIVENESS interval, whatever
# their threads are doing (a long COPY, a slow upload), and every worker looks about once a
# second for jobs whose heartbeat is older than STALE_AFTER: a killed worker's job resumes
# elsewhere in about STALE_AFTER + 2 s (exports/engine/liveness.py; docs/operations.md, "Failover").
EXPORTS_LIVENESS_INTERVAL_SECONDS = env_int("EXPORTS_LIVENESS_INTERVAL_SECONDS", 2, minimum=1, maximum=60)
EXPORTS_STALE_AFTER_SECONDS = env_int("EXPORTS_STALE_AFTER_SECONDS", 10, minimum=2)
if EXPORTS_STALE_AFTER_SECONDS <= EXPORTS_LIVENESS_INTERVAL_SECONDS:
    raise ImproperlyConfigured(
        "Environment variable EXPORTS_STALE_AFTER_SECONDS must be greater than "
        f"EXPORTS_LIVENESS_INTERVAL_SECONDS ({EXPORTS_LIVENESS_INTERVAL_SECONDS}), got {EXPORTS_STALE_AFTER_SECONDS}: "
        "every running job would look dead between two beats."
    )
EXPORTS_REENQUEUE_AFTER_SECONDS = env_int("EXPORTS_REENQUEUE_AFTER_SECONDS", 60, minimum=1)
EXPORTS_MAINTENANCE_INTERVAL_SECONDS = env_int("EXPORTS_MAINTENANCE_INTERVAL_SECONDS", 30, minimum=1)
EXPORTS_RETENTION_DAYS = env_int("EXPORTS_RETENTION_DAYS", 30, minimum=1)
EXPORTS_RETENTION_DAYS_BY_TYPE = env_int_map("EXPORTS_RETENTION_DAYS_BY_TYPE")
EXPORTS_ORPHAN_MIN_AGE_SECONDS = env_int("EXPORTS_ORPHAN_MIN_AGE_SECONDS", 3600, minimum=0)
# Quotas and notifications.
EXPORTS_MAX_ACTIVE_PER_USER = env_int("EXPORTS_MAX_ACTIVE_PER_USER", 25, minimum=0)
# Webhook signatures carry their time; receivers should refuse older than this (documented).
EXPORTS_WEBHOOK_TOLERANCE_SECONDS = 300
# Optional egress proxy for webhooks (http://host:port): then the proxy, not the worker, connects.
EXPORTS_WEBHOOK_PROXY = env_str("EXPORTS_WEBHOOK_PROXY", "")
if EXPORTS_WEBHOOK_PROXY:
    _proxy = urlsplit(EXPORTS_WEBHOOK_PROXY)
    if _proxy.scheme != "http" or not _proxy.hostname or _proxy.path not in ("", "/"):
        raise ImproperlyConfigured(
            "Environment variable EXPORTS_WEBHOOK_PROXY must look like http://host:port, "
            f"got {EXPORTS_WEBHOOK_PROXY!r}."
        )
# Webhooks go to public addresses only, unless this is on: otherwise anyone allowed to request an
# export could make the worker POST into the service's own network (SSRF).
EXPORTS_WEBHOOK_ALLOW_PRIVATE = env_bool("EXPORTS_WEBHOOK_ALLOW_PRIVATE", False)
