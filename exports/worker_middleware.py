"""Dramatiq middleware for export workers."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import dramatiq
from dramatiq.middleware import Middleware

if TYPE_CHECKING:
    from exports.engine.reconcile import StaleWatch

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


class _DaemonLoop(Middleware):
    """A daemon thread per worker process, from worker boot to shutdown: `tick()` runs, then
    the thread sleeps for the seconds it returned. Its database connection is its own and
    stays open between ticks (a new PostgreSQL backend each tick would cost more than the
    tick); it is closed after an error and when the thread ends."""

    thread_name = ""
    failure_event = ""

    def __init__(self):
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker, worker) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker, worker) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        from django.db import close_old_connections, connection

        failing = False  # log a failure once per streak (a database outage), not every tick
        try:
            while not self._stop.is_set():
                try:
                    wait = self.tick()
                    failing = False
                except Exception:
                    if not failing:
                        logger.exception(self.failure_event)
                    failing = True
                    connection.close()
                    wait = 1.0
                finally:
                    close_old_connections()
                self._stop.wait(wait)
        finally:
            connection.close()

    def tick(self) -> float:
        raise NotImplementedError


class LivenessBeat(_DaemonLoop):
    """Every EXPORTS_LIVENESS_INTERVAL_SECONDS, the heartbeat of every export this process runs
    (exports/engine/liveness.py), so a long COPY batch or a slow part upload is never taken for
    a dead worker, and a dead or frozen process is noticed within seconds."""

    thread_name = "exports-liveness"
    failure_event = "liveness beat failed; trying again later"

    def tick(self) -> float:
        from exports.engine.liveness import beat
        from exportsite.conf import export_settings

        beat()
        return export_settings().liveness_interval_seconds


class MaintenanceTicker(_DaemonLoop):
    """Periodic work on the Dramatiq side, in a daemon thread of each worker process, about once
    a second. The stale check (StaleWatch: takes over jobs whose worker died) runs here, not in
    an actor, so it never waits for a worker thread that long exports keep busy. Maintenance
    proper is sent as the `exports_maintenance` message when the database-held lease says it is
    due: once per interval across all workers, and the sending survives broker restarts (the
    thread just tries again next time)."""

    thread_name = "exports-maintenance-ticker"
    failure_event = "maintenance tick failed; trying again later"

    def __init__(self):
        super().__init__()
        self._next_lease_check = 0.0
        self._watch: StaleWatch | None = None

    def tick(self) -> float:
        from exports.engine.reconcile import StaleWatch
        from exports.services.maintenance import periodic_task_due
        from exportsite.conf import export_settings

        now = time.monotonic()
        if self._watch is None:
            self._watch = StaleWatch()
        try:
            self._watch.tick(now=now)
        except Exception:
            self._watch.unreachable()  # the database failed it: trust it again only after a while
            raise
        if now >= self._next_lease_check:
            interval = export_settings().maintenance_interval_seconds
            self._next_lease_check = now + max(1.0, interval / 3)
            if periodic_task_due(name="maintenance", interval_seconds=interval):
                dramatiq.get_broker().get_actor("exports_maintenance").send()
        return 1.0
