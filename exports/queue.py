"""Sending a job's message to its type's actor (used by requests, retries and the reconciler)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import dramatiq
from django.utils import timezone

from exports import selectors, states
from exports.types import EXPORT_TYPES
from exportsite import tracing

logger = logging.getLogger(__name__)


def export_enqueue(*, export_id: str, export_type: str, delay_seconds: int = 0) -> bool:
    """Send the job to its type's actor. A failure is logged, not raised: the job stays PENDING
    in the database, which is the source of truth, and the reconciler sends it again."""
    try:
        actor = dramatiq.get_broker().get_actor(EXPORT_TYPES[export_type].actor_name)
        with tracing.span("export.enqueue", export__id=export_id, export__type=export_type):
            # The trace goes on in the worker: its run span's parent travels in the message options.
            options: dict[str, Any] = {**tracing.carrier()}
            if delay_seconds:
                options["delay"] = delay_seconds * 1000
            actor.send_with_options(args=(export_id,), **options)
    except Exception:
        logger.exception("export enqueue failed; job stays PENDING", extra={"export_id": export_id})
        return False
    states.record_enqueued(export_id, at=timezone.now() + timedelta(seconds=delay_seconds))
    return True


def export_enqueue_pending() -> int:
    """(Re)send every PENDING job; claims are atomic, so duplicates messages are harmless."""
    sent = 0
    for export_id, export_type in selectors.export_pending_ids():
        if export_type in EXPORT_TYPES and export_enqueue(export_id=export_id, export_type=export_type):
            sent += 1
    if sent:
        logger.info("pending exports enqueued", extra={"count": sent})
    return sent
