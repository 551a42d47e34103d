"""gunicorn configuration for the web processes, read from the environment:

    gunicorn -c python:exportsite.gunicorn exportsite.wsgi

Variables (docs/operations.md, "Production"): EXPORTSITE_BIND (or PORT), EXPORTSITE_WEB_WORKERS,
EXPORTSITE_WEB_THREADS, EXPORTSITE_WEB_TIMEOUT, EXPORTSITE_WEB_MAX_REQUESTS. A wrong value stops
gunicorn with a message naming the variable. Command-line flags still override these.
"""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gunicorn import glogging

from exportsite.environment import env_int, env_list, env_str
from exportsite.logging import RedactDownloadTokensFilter, redact_paths

# EXPORTSITE_BIND wins (comma-separated, e.g. "0.0.0.0:8000" or "unix:/run/exportsite.sock");
# else PORT, as platforms such as Heroku or Cloud Run set it.
bind = env_list("EXPORTSITE_BIND") or [f"0.0.0.0:{env_int('PORT', 8000, minimum=1, maximum=65535)}"]

# Threads: a download from local-folder storage streams through Django and would hold a whole
# sync worker for as long as the client reads. Each thread keeps its own database connection.
workers = env_int("EXPORTSITE_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1, minimum=1, maximum=64)
threads = env_int("EXPORTSITE_WEB_THREADS", 4, minimum=1, maximum=64)
worker_class = "gthread" if threads > 1 else "sync"

# API requests are short (insert a row, enqueue a message); the exports run in the workers.
timeout = env_int("EXPORTSITE_WEB_TIMEOUT", 60, minimum=5)
graceful_timeout = 30
keepalive = 5  # behind a proxy that reuses connections

# Recycle workers now and then, so a slow leak can never grow without bound.
max_requests = env_int("EXPORTSITE_WEB_MAX_REQUESTS", 2000, minimum=0)
max_requests_jitter = max_requests // 10

# Containers: keep the worker heartbeat files in memory, not on an overlay filesystem.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None

accesslog = env_str("EXPORTSITE_WEB_ACCESS_LOG", "-")
errorlog = "-"
loglevel = "info"


class JsonAccessLogger(glogging.Logger):
    """Access-log lines as JSON objects, like the application's own logs (LOG_FORMAT=json).
    Download tokens are bearer credentials: paths show `/downloads/<redacted>`, in the access
    lines and in gunicorn's own error lines ("Error handling request /downloads/…")."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        if not any(isinstance(f, RedactDownloadTokensFilter) for f in self.error_log.filters):
            self.error_log.addFilter(RedactDownloadTokensFilter())

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        request_id = atoms.get("{x-request-id}o")
        record = {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "logger": "gunicorn.access",
            "event": "http request",
            "correlation_id": request_id,
            "method": atoms["m"],
            "path": redact_paths(atoms["U"]),
            "query": atoms["q"] or "",
            "status": int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"],
            "bytes": atoms["B"],
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "remote_addr": atoms["h"],
            "user_agent": atoms["a"],
        }
        try:
            self.access_log.info(json.dumps(record, ensure_ascii=False))
        except Exception:  # noqa: BLE001 - logging must never break a response
            self.exception("access log line could not be written")


logger_class = JsonAccessLogger


def post_worker_init(worker) -> None:
    """Zero-setup deployments (no DRAMATIQ_BROKER_URL): each web worker runs an export worker in
    process, as `manage.py serve` does; with a broker, `manage.py rundramatiq` consumes instead."""
    from exportsite.conf import export_settings

    conf = export_settings()
    if conf.inprocess_worker and not conf.broker_url:
        from django.apps import apps

        exports_app: Any = apps.get_app_config("exports")  # ExportsConfig, found by label, not imported
        exports_app.start_inprocess_worker(threads=conf.inprocess_worker_threads)
