"""The Dramatiq broker and the export workers: idle poll, worker metrics, the in-process worker."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

from exportsite.environment import env_bool, env_int, env_str


def broker_from_url(name: str, url: str) -> tuple[str, dict]:
    """Dramatiq broker class path and options for a broker URL; empty URL = in-process stub broker."""
    if not url:
        return "dramatiq.brokers.stub.StubBroker", {}
    scheme = urlparse(url).scheme
    if scheme in ("redis", "rediss"):
        return "exportsite.broker.WakeupRedisBroker", {"url": url}
    if scheme in ("amqp", "amqps"):
        # Export messages are acked when they start: RabbitMQ's consumer_timeout (exportsite/broker.py).
        return "exportsite.broker.EarlyAckRabbitmqBroker", {"url": url}
    raise ImproperlyConfigured(f"Environment variable {name} must be a redis:// or amqp:// URL, got scheme {scheme!r}.")


DRAMATIQ_BROKER_URL = env_str("DRAMATIQ_BROKER_URL", "")
# An idle Dramatiq consumer looks at its Redis queue at least this often (ms). A new job does not
# wait for it: enqueues wake the consumers of their queue (exportsite/broker.py). The poll is the
# fallback for a lost wake-up, and how often delayed messages (retries) and a stopping worker are
# noticed. Every queue (and its delay queue) has its own consumer thread, 34 per worker process,
# ~1.3 ms of CPU per poll. Dramatiq reads it from this variable when imported, so it is exported
# here, before `manage.py rundramatiq` execs the `dramatiq` program.
EXPORTS_WORKER_IDLE_POLL_MS = env_int("EXPORTS_WORKER_IDLE_POLL_MS", 1000, minimum=10, maximum=10_000)
os.environ["dramatiq_worker_timeout"] = str(EXPORTS_WORKER_IDLE_POLL_MS)
_broker_class, _broker_options = broker_from_url("DRAMATIQ_BROKER_URL", DRAMATIQ_BROKER_URL)
DRAMATIQ_BROKER: dict[str, Any] = {
    "BROKER": _broker_class,
    "OPTIONS": _broker_options,
    "MIDDLEWARE": [
        "dramatiq.middleware.AgeLimit",
        "dramatiq.middleware.TimeLimit",
        "dramatiq.middleware.Callbacks",
        "dramatiq.middleware.Retries",
        # The actor reads its message's options (the trace context: exportsite/tracing.py).
        "dramatiq.middleware.CurrentMessage",
        "django_dramatiq.middleware.DbConnectionsMiddleware",
        "exports.worker_middleware.FlatMemory",
        "exports.worker_middleware.EnqueuePendingOnWorkerBoot",
        "exports.worker_middleware.LivenessBeat",
        "exports.worker_middleware.MaintenanceTicker",
    ],
}
# Worker metrics (docs/operations.md, "Metrics"): with a port, every `rundramatiq` serves the
# Dramatiq and export metrics of all its processes there. Prometheus' multiprocess mode is
# needed for that, and must be on before any metric exists, so its folder comes from the
# environment of the worker processes (never set it for the web processes).
EXPORTS_WORKER_METRICS_PORT = env_int("EXPORTS_WORKER_METRICS_PORT", 0, minimum=0, maximum=65535)
EXPORTS_WORKER_METRICS_HOST = env_str("EXPORTS_WORKER_METRICS_HOST", "0.0.0.0")
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", "")
if EXPORTS_WORKER_METRICS_PORT:
    if not PROMETHEUS_MULTIPROC_DIR:
        raise ImproperlyConfigured(
            "Environment variable PROMETHEUS_MULTIPROC_DIR is required when EXPORTS_WORKER_METRICS_PORT is set."
        )
    if not Path(PROMETHEUS_MULTIPROC_DIR).is_dir():
        raise ImproperlyConfigured(
            "Environment variable PROMETHEUS_MULTIPROC_DIR must name an existing folder, "
            f"got {PROMETHEUS_MULTIPROC_DIR!r}."
        )
    DRAMATIQ_BROKER["MIDDLEWARE"].append("exports.metrics.WorkerMetrics")
DRAMATIQ_AUTODISCOVER_MODULES = ["actors"]
# With no broker URL the web process runs the worker itself (zero-setup mode: `manage.py serve`,
# or gunicorn with exportsite/gunicorn.py); set false for web processes that must not.
EXPORTS_INPROCESS_WORKER = env_bool("EXPORTS_INPROCESS_WORKER", not DRAMATIQ_BROKER_URL)
EXPORTS_INPROCESS_WORKER_THREADS = env_int("EXPORTS_INPROCESS_WORKER_THREADS", 2, minimum=1, maximum=32)
