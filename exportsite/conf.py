"""The one typed accessor app code uses for exportsite settings.

Each field names the setting it is read from (exportsite/settings/). `export_settings()` reads
them at call time, so a test's settings override shows at once.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, fields
from operator import attrgetter
from pathlib import Path
from typing import Any

from django.conf import settings


def _setting(name: str) -> Any:
    """A field read from the setting `name`."""
    return field(metadata={"setting": name})


@dataclass(frozen=True)
class ExportSettings:
    part_size_bytes: int = _setting("EXPORTS_PART_SIZE_BYTES")
    copy_fast_path: bool = _setting("EXPORTS_COPY_FAST_PATH")
    storage_aliases: tuple[str, ...] = _setting("EXPORT_STORAGE_ALIASES")
    # Django's own: each alias's backend and options (S3 or a local folder).
    storages: dict[str, dict[str, Any]] = _setting("STORAGES")
    copy_readers: int = _setting("EXPORTS_COPY_READERS")
    replica_alias: str = _setting("EXPORTS_REPLICA_ALIAS")  # "" without DATABASE_REPLICA_URL
    replica_wait_seconds: int = _setting("EXPORTS_REPLICA_WAIT_SECONDS")
    page_size: int = _setting("EXPORTS_PAGE_SIZE")
    zip_level: int = _setting("EXPORTS_ZIP_LEVEL")
    download_url_ttl_seconds: int = _setting("EXPORTS_DOWNLOAD_URL_TTL_SECONDS")
    default_time_limit_seconds: int = _setting("EXPORTS_DEFAULT_TIME_LIMIT_SECONDS")
    progress_interval_seconds: int = _setting("EXPORTS_PROGRESS_INTERVAL_SECONDS")
    public_base_url: str = _setting("EXPORTS_PUBLIC_BASE_URL")
    inprocess_worker: bool = _setting("EXPORTS_INPROCESS_WORKER")
    inprocess_worker_threads: int = _setting("EXPORTS_INPROCESS_WORKER_THREADS")
    worker_idle_poll_ms: int = _setting("EXPORTS_WORKER_IDLE_POLL_MS")
    worker_metrics_host: str = _setting("EXPORTS_WORKER_METRICS_HOST")
    worker_metrics_port: int = _setting("EXPORTS_WORKER_METRICS_PORT")
    prometheus_multiproc_dir: str = _setting("PROMETHEUS_MULTIPROC_DIR")
    broker_url: str = _setting("DRAMATIQ_BROKER_URL")
    max_attempts: int = _setting("EXPORTS_MAX_ATTEMPTS")
    # How long a worker's state write waits out a lost database connection (exports/db_retry.py).
    db_retry_seconds: int = _setting("EXPORTS_DB_RETRY_SECONDS")
    retry_backoff_seconds: int = _setting("EXPORTS_RETRY_BACKOFF_SECONDS")
    stale_after_seconds: int = _setting("EXPORTS_STALE_AFTER_SECONDS")
    # Every worker process beats for its running jobs this often (exports/engine/liveness.py).
    liveness_interval_seconds: int = _setting("EXPORTS_LIVENESS_INTERVAL_SECONDS")
    reenqueue_after_seconds: int = _setting("EXPORTS_REENQUEUE_AFTER_SECONDS")
    maintenance_interval_seconds: int = _setting("EXPORTS_MAINTENANCE_INTERVAL_SECONDS")
    retention_days: int = _setting("EXPORTS_RETENTION_DAYS")
    retention_days_by_type: dict[str, int] = _setting("EXPORTS_RETENTION_DAYS_BY_TYPE")
    orphan_min_age_seconds: int = _setting("EXPORTS_ORPHAN_MIN_AGE_SECONDS")
    max_active_per_user: int = _setting("EXPORTS_MAX_ACTIVE_PER_USER")
    api_rate: str = _setting("EXPORTS_API_RATE")
    webhook_secret: str = _setting("EXPORTS_WEBHOOK_SECRET")
    webhook_allow_private: bool = _setting("EXPORTS_WEBHOOK_ALLOW_PRIVATE")
    webhook_proxy: str = _setting("EXPORTS_WEBHOOK_PROXY")
    webhook_tolerance_seconds: int = _setting("EXPORTS_WEBHOOK_TOLERANCE_SECONDS")
    download_signing_key: str = _setting("EXPORTS_DOWNLOAD_SIGNING_KEY")
    trusted_proxies: int = _setting("EXPORTSITE_TRUSTED_PROXIES")
    login_rate: str = _setting("EXPORTS_LOGIN_RATE")
    metrics_token: str = _setting("EXPORTS_METRICS_TOKEN")
    metrics_allowed_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = _setting(
        "EXPORTS_METRICS_ALLOWED_NETWORKS"
    )
    metrics_cache_seconds: int = _setting("EXPORTS_METRICS_CACHE_SECONDS")
    # Django's own, set from EXPORTSITE_MAX_BODY_BYTES: Django refuses a larger body too.
    max_body_bytes: int = _setting("DATA_UPLOAD_MAX_MEMORY_SIZE")
    # Django's own: the charset of a request body that names none.
    default_charset: str = _setting("DEFAULT_CHARSET")
    base_dir: Path = _setting("BASE_DIR")
    # Django's own: development mode (commands that hand out credentials refuse production).
    debug: bool = _setting("DEBUG")

    def retention_days_for(self, export_type: str) -> int:
        return self.retention_days_by_type.get(export_type, self.retention_days)

    def retry_delay_seconds(self, attempts: int) -> int:
        """Exponential backoff after `attempts` tries, capped at ten minutes."""
        return min(600, self.retry_backoff_seconds * 2 ** max(0, attempts - 1))


# One call reads every field's setting, in field order (as cheap as the fields written out).
_read_settings = attrgetter(*(each.metadata["setting"] for each in fields(ExportSettings)))


def export_settings() -> ExportSettings:
    """The current values, read at call time."""
    return ExportSettings(*_read_settings(settings))
