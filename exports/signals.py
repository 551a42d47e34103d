"""Signals between the layers: the engine and the reconciler say a job ended; the services
(notifications) listen. The sender never imports the listener."""

from __future__ import annotations

from django.dispatch import Signal

# Sent with `export_id` (str) when a job reached FINISHED, FAILED or EXPIRED through a worker or
# the reconciler. Receivers must not raise: the job's state is already final.
export_ended = Signal()


def send_export_ended(*, export_id: str) -> None:
    export_ended.send(sender=None, export_id=export_id)
