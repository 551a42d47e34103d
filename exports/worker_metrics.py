"""Prometheus metrics of the Dramatiq worker processes (docs/operations.md, "Metrics"): the
middleware that records them and the exposition server that serves every process's values.
Added by settings, as `exports.metrics.WorkerMetrics`, only when EXPORTS_WORKER_METRICS_PORT is set.
"""

from __future__ import annotations

import logging
import os
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING

from dramatiq.middleware import Middleware

from exportsite.conf import export_settings

if TYPE_CHECKING:
    from dramatiq.middleware.prometheus import Prometheus

logger = logging.getLogger(__name__)


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
    return export_settings().prometheus_multiproc_dir


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
    conf = export_settings()
    address = (conf.worker_metrics_host, conf.worker_metrics_port)
    logger.info("worker metrics server listening", extra={"host": address[0], "port": address[1]})
    with HTTPServer(address, _WorkerMetricsHandler) as server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0
