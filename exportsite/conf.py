"""The one typed accessor app code uses for exportsite settings."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class ExportSettings:
    part_size_bytes: int
    page_size: int
    download_url_ttl_seconds: int
    default_time_limit_seconds: int
    progress_interval_seconds: int
    public_base_url: str
    inprocess_worker: bool
    inprocess_worker_threads: int
    broker_url: str


def export_settings() -> ExportSettings:
    """Read at call time so tests can override settings."""
    return ExportSettings(
        part_size_bytes=settings.EXPORTS_PART_SIZE_BYTES,
        page_size=settings.EXPORTS_PAGE_SIZE,
        download_url_ttl_seconds=settings.EXPORTS_DOWNLOAD_URL_TTL_SECONDS,
        default_time_limit_seconds=settings.EXPORTS_DEFAULT_TIME_LIMIT_SECONDS,
        progress_interval_seconds=settings.EXPORTS_PROGRESS_INTERVAL_SECONDS,
        public_base_url=settings.EXPORTS_PUBLIC_BASE_URL,
        inprocess_worker=settings.EXPORTS_INPROCESS_WORKER,
        inprocess_worker_threads=settings.EXPORTS_INPROCESS_WORKER_THREADS,
        broker_url=settings.DRAMATIQ_BROKER_URL,
    )
