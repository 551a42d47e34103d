"""The zero-setup worker: Dramatiq's worker running inside the web process.

Used only when no broker URL is configured (the in-memory StubBroker cannot be shared between
processes). Starting it emits `worker_boot`, which re-enqueues jobs left PENDING.
"""

from __future__ import annotations

import logging

import dramatiq

logger = logging.getLogger(__name__)


def inprocess_worker_start(*, threads: int) -> dramatiq.Worker:
    from exportsite.conf import export_settings

    worker = dramatiq.Worker(
        dramatiq.get_broker(), worker_timeout=export_settings().worker_idle_poll_ms, worker_threads=threads
    )
    worker.start()
    logger.info("in-process export worker started", extra={"threads": threads})
    return worker
