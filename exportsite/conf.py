"""The one typed accessor app code uses for exportsite settings."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class ExportSettings:
    part_size_bytes: int
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

    def retention_days_for(self, export_type: str) -> int:
        return self.retention_days_by_type.get(export_type, self.retention_days)

    def retry_delay_seconds(self, attempts: int) -> int:
        """Exponential backoff after `attempts` tries, capped at ten minutes."""
        return min(600, self.retry_backoff_seconds * 2 ** max(0, attempts - 1))


def export_settings() -> ExportSettings:
    """Read at call time so tests can override settings."""
    return ExportSettings(
        part_size_bytes=settings.EXPORTS_PART_SIZE_BYTES,
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
    )
