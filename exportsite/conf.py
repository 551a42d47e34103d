"""The one typed accessor app code uses for exportsite settings."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class ExportSettings:
    part_size_bytes: int
    copy_fast_path: bool
    storage_aliases: tuple[str, ...]
    copy_readers: int
    page_size: int
    download_url_ttl_seconds: int
    default_time_limit_seconds: int
    progress_interval_seconds: int
    public_base_url: str
    inprocess_worker: bool
    inprocess_worker_threads: int
    worker_idle_poll_ms: int
    broker_url: str
    max_attempts: int
    retry_backoff_seconds: int
    stale_after_seconds: int
    reenqueue_after_seconds: int
    maintenance_interval_seconds: int
    retention_days: int
    retention_days_by_type: dict[str, int]
    orphan_min_age_seconds: int
    max_active_per_user: int
    webhook_secret: str
    webhook_allow_private: bool
    webhook_proxy: str
    webhook_tolerance_seconds: int
    download_signing_key: str
    trusted_proxies: int
    login_rate: str
    metrics_token: str
    metrics_allowed_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
    metrics_cache_seconds: int

    def retention_days_for(self, export_type: str) -> int:
        return self.retention_days_by_type.get(export_type, self.retention_days)

    def retry_delay_seconds(self, attempts: int) -> int:
        """Exponential backoff after `attempts` tries, capped at ten minutes."""
        return min(600, self.retry_backoff_seconds * 2 ** max(0, attempts - 1))


def export_settings() -> ExportSettings:
    """Read at call time so tests can override settings."""
    return ExportSettings(
        part_size_bytes=settings.EXPORTS_PART_SIZE_BYTES,
        copy_fast_path=settings.EXPORTS_COPY_FAST_PATH,
        storage_aliases=tuple(settings.EXPORT_STORAGE_ALIASES),
        copy_readers=settings.EXPORTS_COPY_READERS,
        page_size=settings.EXPORTS_PAGE_SIZE,
        download_url_ttl_seconds=settings.EXPORTS_DOWNLOAD_URL_TTL_SECONDS,
        default_time_limit_seconds=settings.EXPORTS_DEFAULT_TIME_LIMIT_SECONDS,
        progress_interval_seconds=settings.EXPORTS_PROGRESS_INTERVAL_SECONDS,
        public_base_url=settings.EXPORTS_PUBLIC_BASE_URL,
        inprocess_worker=settings.EXPORTS_INPROCESS_WORKER,
        inprocess_worker_threads=settings.EXPORTS_INPROCESS_WORKER_THREADS,
        worker_idle_poll_ms=settings.EXPORTS_WORKER_IDLE_POLL_MS,
        broker_url=settings.DRAMATIQ_BROKER_URL,
        max_attempts=settings.EXPORTS_MAX_ATTEMPTS,
        retry_backoff_seconds=settings.EXPORTS_RETRY_BACKOFF_SECONDS,
        stale_after_seconds=settings.EXPORTS_STALE_AFTER_SECONDS,
        reenqueue_after_seconds=settings.EXPORTS_REENQUEUE_AFTER_SECONDS,
        maintenance_interval_seconds=settings.EXPORTS_MAINTENANCE_INTERVAL_SECONDS,
        retention_days=settings.EXPORTS_RETENTION_DAYS,
        retention_days_by_type=settings.EXPORTS_RETENTION_DAYS_BY_TYPE,
        orphan_min_age_seconds=settings.EXPORTS_ORPHAN_MIN_AGE_SECONDS,
        max_active_per_user=settings.EXPORTS_MAX_ACTIVE_PER_USER,
        webhook_secret=settings.EXPORTS_WEBHOOK_SECRET,
        webhook_allow_private=settings.EXPORTS_WEBHOOK_ALLOW_PRIVATE,
        webhook_proxy=settings.EXPORTS_WEBHOOK_PROXY,
        webhook_tolerance_seconds=settings.EXPORTS_WEBHOOK_TOLERANCE_SECONDS,
        download_signing_key=settings.EXPORTS_DOWNLOAD_SIGNING_KEY,
        trusted_proxies=settings.EXPORTSITE_TRUSTED_PROXIES,
        login_rate=settings.EXPORTS_LOGIN_RATE,
        metrics_token=settings.EXPORTS_METRICS_TOKEN,
        metrics_allowed_networks=settings.EXPORTS_METRICS_ALLOWED_NETWORKS,
        metrics_cache_seconds=settings.EXPORTS_METRICS_CACHE_SECONDS,
    )
