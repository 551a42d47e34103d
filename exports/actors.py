"""One Dramatiq actor per export type, declared from the registry. Each only calls the engine.

Retries are off at this level: export_run records every failure on the job itself, and a
redelivered message for a job that is no longer PENDING does nothing.
"""

from __future__ import annotations

import dramatiq
from dramatiq.middleware import CurrentMessage

from exports.engine import export_run, export_time_limit
from exports.engine.liveness import vouch
from exports.engine.reconcile import export_reconcile
from exports.services.maintenance import export_apply_retention
from exports.services.notifications import export_send_email, export_send_webhook
from exports.types import EXPORT_TYPES
from exports.types.base import ExportType
from exportsite import tracing

# The broker's own time limit is a backstop behind the service's deadline check.
_TIME_LIMIT_GRACE_MS = 60_000


def _declare_actor(export_type: ExportType) -> dramatiq.Actor:
    def run_export(export_id: str) -> None:
        message = CurrentMessage.get_current_message()
        # The run span continues the request's trace (its context came in the message options).
        with tracing.continued("export.run", message.options if message else {}, export__id=export_id):
            with vouch():  # this process beats for the run while it lasts (exports/engine/liveness.py)
                export_run(export_id=export_id)

    run_export.__name__ = export_type.actor_name
    run_export.__doc__ = f"Run one `{export_type.key}` export."
    time_limit_ms = int(export_time_limit(export_type).total_seconds() * 1000) + _TIME_LIMIT_GRACE_MS
    return dramatiq.actor(
        actor_name=export_type.actor_name,
        queue_name=export_type.queue_name,
        max_retries=0,
        time_limit=time_limit_ms,
    )(run_export)


EXPORT_ACTORS: dict[str, dramatiq.Actor] = {key: _declare_actor(t) for key, t in EXPORT_TYPES.items()}


@dramatiq.actor(actor_name="exports_maintenance", queue_name="exports.maintenance", max_retries=0, time_limit=600_000)
def exports_maintenance() -> None:
    """Reconcile jobs with reality and apply retention (sent by the MaintenanceTicker)."""
    export_reconcile()
    export_apply_retention()


@dramatiq.actor(actor_name="exports_notify_email", queue_name="exports.notify", max_retries=3)
def exports_notify_email(export_id: str) -> None:
    """E-mail the requester that their export ended."""
    export_send_email(export_id=export_id)


@dramatiq.actor(
    actor_name="exports_notify_webhook",
    queue_name="exports.notify",
    max_retries=6,
    min_backoff=2_000,
    max_backoff=300_000,
)
def exports_notify_webhook(export_id: str) -> None:
    """POST the ended export to the request's webhookUrl; retried with backoff on failure."""
    export_send_webhook(export_id=export_id)
