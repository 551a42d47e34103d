"""Dramatiq middleware for export workers."""

from __future__ import annotations

import logging

from dramatiq.middleware import Middleware

logger = logging.getLogger(__name__)


class EnqueuePendingOnWorkerBoot(Middleware):
    """When a worker starts, re-send every PENDING job, so nothing queued before a restart
    (or lost with an in-memory broker) is forgotten. Claims are atomic, so repeats are harmless."""

    def after_worker_boot(self, broker, worker) -> None:
        from exports.services import export_enqueue_pending

        try:
            export_enqueue_pending()
        except Exception:
            logger.exception("re-enqueueing pending exports at worker boot failed")
