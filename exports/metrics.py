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
import os
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING

from django.utils import timezone
from dramatiq.middleware import Middleware
from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from dramatiq.middleware.prometheus import Prometheus

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

_FINAL_STATUSES = ("FINISHED", "FAILED", "EXPIRED", "CANCELLED")


def record_job_end(
    export_type: str, status: str, duration_seconds: float | None, rows: int = 0, bytes: int = 0
) -> None:
    """Count one job reaching a final status; `rows`/`bytes` are those of the finished file(s)."""
    if status not in _FINAL_STATUSES:
        raise ValueError(f"not a final export status: {status!r}")
    EXPORT_JOBS_ENDED.labels(export_type=export_type, status=status).inc()
    if duration_seconds is not None:
        EXPORT_DURATION.labels(export_type=export_type).observe(max(0.0, duration_seconds))
    if status == "FINISHED":
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

    from exports.models import ACTIVE_STATUSES, Export

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
        if row["status"] == "PENDING":
            oldest[row["export_type"]] = row["oldest"]
    return counts, oldest


_stats_lock = threading.Lock()
_stats_cache: tuple[float, tuple[dict[tuple[str, str], int], dict[str, datetime]]] | None = None


def _cached_job_stats() -> tuple[dict[tuple[str, str], int], dict[str, datetime]]:
    """`_active_job_stats()`, read again only when the last read is older than
    metrics_cache_seconds (0: every scrape). Failures are not kept: the next scrape retries."""
    global _stats_cache
    from exportsite.conf import export_settings

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
            for status in ("PENDING", "TRIGGERED"):
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


# --- Worker processes: Dramatiq's Prometheus middleware -------------------------------------


class WorkerMetrics(Middleware):
    """Dramatiq's Prometheus middleware, adapted to this project (settings add it only when
    EXPORTS_WORKER_METRICS_PORT is set):

    - values go to PROMETHEUS_MULTIPROC_DIR, which settings then require; Dramatiq's own
      middleware would switch to its `dramatiq_prom_db` folder after metrics were created;
    - the exposition server listens on EXPORTS_WORKER_METRICS_HOST:EXPORTS_WORKER_METRICS_PORT
      and serves the export metrics too (in a worker every metric is a multiprocess value);
    - outside `rundramatiq` (the in-thread workers of tests and `manage.py serve`) no process
      boots, so the hooks do nothing instead of failing on metrics that were never created.
    """

    def __init__(self) -> None:
        self._prometheus: Prometheus | None = None  # Dramatiq's middleware, created at process boot

    @property
    def forks(self):
        return [serve_worker_metrics]

    def after_process_boot(self, broker) -> None:
        # Imported here: the module creates Dramatiq's default folder when it is imported.
        from dramatiq.middleware.prometheus import Prometheus

        multiproc_dir = _multiproc_dir()
        prometheus = Prometheus()
        prometheus.after_process_boot(broker)  # points the environment at its own folder …
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ["prometheus_multiproc_dir"] = multiproc_dir  # … undo
        self._prometheus = prometheus

    def after_worker_shutdown(self, broker, worker) -> None:
        if self._prometheus is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid(), _multiproc_dir())

    def after_nack(self, broker, message) -> None:
        if self._prometheus is not None:
            self._prometheus.after_nack(broker, message)

    def after_enqueue(self, broker, message, delay) -> None:
        if self._prometheus is not None:
            self._prometheus.after_enqueue(broker, message, delay)

    def before_delay_message(self, broker, message) -> None:
        if self._prometheus is not None:
            self._prometheus.before_delay_message(broker, message)

    def before_process_message(self, broker, message) -> None:
        if self._prometheus is not None:
            self._prometheus.before_process_message(broker, message)

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        if self._prometheus is not None:
            self._prometheus.after_process_message(broker, message, result=result, exception=exception)

    def after_skip_message(self, broker, message) -> None:
        if self._prometheus is not None:
            self._prometheus.after_skip_message(broker, message)


def _multiproc_dir() -> str:
    from django.conf import settings

    return settings.PROMETHEUS_MULTIPROC_DIR


class _WorkerMetricsHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=_multiproc_dir())
        output = generate_latest(registry)
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(output)))
        self.end_headers()
        self.wfile.write(output)

    def log_message(self, format: str, *args) -> None:
        logger.debug("worker metrics: " + format, *args)


def serve_worker_metrics() -> int:
    """Dramatiq fork process: serve every worker process's metrics of this `rundramatiq`."""
    from django.conf import settings

    address = (settings.EXPORTS_WORKER_METRICS_HOST, settings.EXPORTS_WORKER_METRICS_PORT)
    logger.info("worker metrics server listening", extra={"host": address[0], "port": address[1]})
    with HTTPServer(address, _WorkerMetricsHandler) as server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0
