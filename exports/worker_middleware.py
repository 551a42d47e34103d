"""Dramatiq middleware for export workers."""

from __future__ import annotations

import logging
import threading

import dramatiq
from dramatiq.middleware import Middleware

logger = logging.getLogger(__name__)


class FlatMemory(Middleware):
    """Before a worker starts: large freed buffers go back to the system (exportsite.malloc)."""

    def before_worker_boot(self, broker, worker) -> None:
        from exportsite.malloc import malloc_tune

        malloc_tune()


class EnqueuePendingOnWorkerBoot(Middleware):
    """When a worker starts, re-send every PENDING job, so nothing queued before a restart
    (or lost with an in-memory broker) is forgotten. Claims are atomic, so repeats are harmless."""

    def after_worker_boot(self, broker, worker) -> None:
        from exports.queue import export_enqueue_pending

        try:
            export_enqueue_pending()
        except Exception:
            logger.exception("re-enqueueing pending exports at worker boot failed")


class MaintenanceTicker(Middleware):
    """Periodic maintenance on the Dramatiq side: a daemon thread in each worker process asks
    the database-held lease every few seconds and, when maintenance is due, sends the
    `exports_maintenance` message. The lease makes it once per interval across all workers,
    and the sending survives broker restarts (the thread just tries again next time)."""

    def __init__(self):
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker, worker) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="exports-maintenance-ticker", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker, worker) -> None:
        self._stop.set()

    def _loop(self) -> None:
        from django.db import close_old_connections, connection

        from exports.services.maintenance import periodic_task_due
        from exportsite.conf import export_settings

        while not self._stop.is_set():
            interval = export_settings().maintenance_interval_seconds
            try:
                if periodic_task_due(name="maintenance", interval_seconds=interval):
                    dramatiq.get_broker().get_actor("exports_maintenance").send()
            except Exception:
                logger.exception("maintenance tick failed; trying again later")
            finally:
                close_old_connections()
                connection.close()
            self._stop.wait(max(1.0, interval / 3))
