"""Prometheus metrics of export jobs, on prometheus_client's default registry (served at /metrics
by django-prometheus, and by the worker exposition server when EXPORTS_WORKER_METRICS_PORT is set).

- Counters and the duration histogram are incremented where a job event happens (the services
  call the `record_*` functions below), so they live in the process that ran the job: a worker.
  docs/operations.md ("Metrics") explains how worker processes expose them.
- The PENDING/TRIGGERED gauges are not kept in memory: a collector reads them from the database
  at scrape time, so every process that is scraped reports the same, correct numbers. The read
  is reused for EXPORTS_METRICS_CACHE_SECONDS (5), so frequent scrapes run one aggregate at most.

Label values are bounded: export types come from the registry, statuses and failure kinds from
the model's choices. Metrics never carry campaign ids, user ids or anything personal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.utils import timezone
from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# The worker processes' part is exports.worker_metrics; settings name its middleware from here.
from exports.statuses import ACTIVE_STATUSES, FINAL_STATUSES, ExportStatus
from exports.worker_metrics import WorkerMetrics  # noqa: F401
from exportsite.conf import export_settings

logger = logging.getLogger(__name__)

# Seconds from "triggered" to the end; exports run from seconds to the type's time limit (1 h).
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)

EXPORT_JOBS_ENDED = Counter(
    "exportsite_export_jobs_ended",
    "Export jobs that reached a final status, by type and status (FINISHED, FAILED, EXPIRED, CANCELLED).",
    ["export_type", "status"],
)
EXPORT_DURATION = Histogram(
    "exportsite_export_duration_seconds",
    "Seconds from the job's last claim (triggered) to its end, by type.",
    ["export_type"],
    buckets=DURATION_BUCKETS,
)
EXPORT_ROWS = Counter("exportsite_export_rows", "Data rows written to finished export files, by type.", ["export_type"])
EXPORT_BYTES = Counter("exportsite_export_bytes", "Bytes of finished export files, by type.", ["export_type"])
EXPORT_RETRIES = Counter(
    "exportsite_export_retries",
    "Attempts sent back to PENDING for another try (transient error or a worker that stopped), by type.",
    ["export_type"],
)
EXPORT_FAILURES = Counter(
    "exportsite_export_failures",
    "Export jobs that ended FAILED, by type and failure kind (data, transient, internal).",
    ["export_type", "kind"],
)


def record_job_end(
    export_type: str, status: str, duration_seconds: float | None, rows: int = 0, bytes: int = 0
) -> None:
    """Count one job reaching a final status; `rows`/`bytes` are those of the finished file(s)."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"not a final export status: {status!r}")
    EXPORT_JOBS_ENDED.labels(export_type=export_type, status=status).inc()
    if duration_seconds is not None:
        EXPORT_DURATION.labels(export_type=export_type).observe(max(0.0, duration_seconds))
    if status == ExportStatus.FINISHED:
        EXPORT_ROWS.labels(export_type=export_type).inc(max(0, rows or 0))
        EXPORT_BYTES.labels(export_type=export_type).inc(max(0, bytes or 0))


def record_retry(export_type: str) -> None:
    """Count one attempt sent back to PENDING to be tried again."""
    EXPORT_RETRIES.labels(export_type=export_type).inc()


def record_failure(export_type: str, kind: str) -> None:
    """Count one job that ended FAILED, by failure kind (`FailureKind` value)."""
    EXPORT_FAILURES.labels(export_type=export_type, kind=kind or "unknown").inc()


def seconds_since(started_at: datetime | None) -> float | None:
    """Duration for `record_job_end` from a job's `triggered_at` (None when it never ran)."""
    if started_at is None:
        return None
    return (timezone.now() - started_at).total_seconds()


# --- Gauges read from the database at scrape time --------------------------------------------


def _active_job_stats() -> tuple[dict[tuple[str, str], int], dict[str, datetime]]:
    """(count per (type, status) of PENDING/TRIGGERED jobs, oldest PENDING creation per type)."""
    from django.db.models import Count, Min

    from exports.models import Export

    counts: dict[tuple[str, str], int] = {}
    oldest: dict[str, datetime] = {}
    rows = (
        Export.objects.filter(status__in=ACTIVE_STATUSES)
        .values("export_type", "status")
        .annotate(jobs=Count("pk"), oldest=Min("created_at"))
        .order_by()
    )
    for row in rows:
        counts[(row["export_type"], row["status"])] = row["jobs"]
        if row["status"] == ExportStatus.PENDING:
            oldest[row["export_type"]] = row["oldest"]
    return counts, oldest


_stats_lock = threading.Lock()
_stats_cache: tuple[float, tuple[dict[tuple[str, str], int], dict[str, datetime]]] | None = None


def _cached_job_stats() -> tuple[dict[tuple[str, str], int], dict[str, datetime]]:
    """`_active_job_stats()`, read again only when the last read is older than
    metrics_cache_seconds (0: every scrape). Failures are not kept: the next scrape retries."""
    global _stats_cache
    ttl = export_settings().metrics_cache_seconds
    with _stats_lock:  # concurrent scrapes (threads) wait for one read instead of each running it
        now = time.monotonic()
        if ttl > 0 and _stats_cache is not None and now - _stats_cache[0] < ttl:
            return _stats_cache[1]
        stats = _active_job_stats()
        _stats_cache = (now, stats) if ttl > 0 else None
        return stats


def clear_job_stats_cache() -> None:
    """Forget the cached read (tests; the next scrape queries the database)."""
    global _stats_cache
    with _stats_lock:
        _stats_cache = None


class ExportJobsCollector(Collector):
    """PENDING and TRIGGERED jobs per type (and the age of the oldest PENDING one), from one
    grouped query, cached a few seconds. A database error never fails the scrape: the gauges are
    left out and `exportsite_export_jobs_collect_ok` is 0."""

    def describe(self) -> Iterable[Metric]:
        # Without describe() the registry would call collect(), i.e. query the database, at import.
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        active, oldest, ok = self._families()
        try:
            counts, oldest_created = _cached_job_stats()
        except Exception:  # noqa: BLE001 - a scrape must succeed while the database is down
            logger.warning("export job gauges could not be read", exc_info=True)
            ok.add_metric([], 0)
            yield ok
            return
        from exports.types import EXPORT_TYPES

        now = timezone.now()
        for export_type in sorted(set(EXPORT_TYPES) | {key for key, _ in counts}):
            for status in ACTIVE_STATUSES:
                active.add_metric([export_type, status], counts.get((export_type, status), 0))
            created = oldest_created.get(export_type)
            oldest.add_metric([export_type], (now - created).total_seconds() if created else 0)
        ok.add_metric([], 1)
        yield from (active, oldest, ok)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "exportsite_export_jobs_active",
                "Export jobs waiting (PENDING) or running (TRIGGERED) now, by type; read from the database.",
                labels=["export_type", "status"],
            ),
            GaugeMetricFamily(
                "exportsite_export_oldest_pending_age_seconds",
                "Age of the oldest PENDING export job, by type (0 when none is pending).",
                labels=["export_type"],
            ),
            GaugeMetricFamily(
                "exportsite_export_jobs_collect_ok", "1 if the export job gauges could be read from the database."
            ),
        )


_collector: ExportJobsCollector | None = None


def register_collector() -> ExportJobsCollector:
    """Register the database-backed collector on the default registry, once per process."""
    global _collector
    if _collector is None:
        _collector = ExportJobsCollector()
        REGISTRY.register(_collector)
    return _collector


register_collector()
