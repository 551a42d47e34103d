"""EarlyAck: on RabbitMQ, an export's message is acked when its run starts, not when it ends.

RabbitMQ closes the channel of a message left unacked for `consumer_timeout` (30 minutes by
default; 3.10 has no per-queue value) and delivers it again, and Dramatiq acks after the actor
returns, so an export running longer would be handed out a second time mid-run. The job's row
owns it instead: the claim (PENDING → TRIGGERED) is a compare-and-set, so a copy of the message
does nothing; a worker that dies after the ack leaves the job PENDING (the reconciler re-sends
lost messages) or TRIGGERED with a stopping heartbeat (another worker takes it over).

Only export queues: maintenance (a ten-minute limit, sent again every interval) and the
notifications (retried by Dramatiq, at least once) keep the ack after the actor. Prefetched
export messages wait unacked until a thread is free; their queues prefetch one message
(exportsite.broker.EarlyAckRabbitmqBroker), and one that still outwaits `consumer_timeout` is
requeued by RabbitMQ, so a free worker gets it; the copy left behind is never acked on the new
channel, and whichever copy runs first claims the job (the other does nothing).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import pika
from dramatiq.errors import BrokerConnectionError
from dramatiq.middleware import Middleware

logger = logging.getLogger(__name__)

EXPORT_QUEUE_PREFETCH = 1


@functools.cache
def early_ack_queues() -> frozenset[str]:
    """The queues of the export actors (one per export type)."""
    # Imported at first use: the broker that owns this middleware is built before the apps load.
    from exports.types import EXPORT_TYPES

    return frozenset(export_type.queue_name for export_type in EXPORT_TYPES.values())


class EarlyAck(Middleware):
    """Acks export messages as their actor starts (module docstring). EarlyAckRabbitmqBroker
    adds it; it needs that broker's consumers (`ack_early`)."""

    prefetch = EXPORT_QUEUE_PREFETCH

    def __init__(self) -> None:
        self._worker: Any = None  # dramatiq.Worker, known after boot

    def acks_early(self, queue_name: str) -> bool:
        return queue_name in early_ack_queues()

    def after_worker_boot(self, broker, worker) -> None:
        self._worker = worker
        _log_broker(broker, worker)

    def before_process_message(self, broker, message) -> None:
        if self._worker is None or not self.acks_early(message.queue_name):
            return
        export_id = message.args[0] if message.args else message.kwargs.get("export_id")
        if getattr(message, "redelivered", False):
            # Normal after a worker died or lost its connection; the claim decides.
            logger.warning("export message redelivered by RabbitMQ", extra={"export_id": export_id})
        consumer = self._worker.consumers[message.queue_name].consumer
        try:
            acked = consumer.ack_early(message)
        except BrokerConnectionError as error:
            # Its channel is gone, so RabbitMQ delivers the message again; the claim dedupes.
            logger.warning("early ack failed (%s)", error, extra={"export_id": export_id})
            return
        if not acked:
            logger.info(
                "export message from a closed channel; RabbitMQ has requeued it", extra={"export_id": export_id}
            )


def _log_broker(broker, worker) -> None:
    """What a worker can see of its RabbitMQ at start. consumer_timeout itself is not visible over
    AMQP (`rabbitmqctl eval 'application:get_env(rabbit, consumer_timeout).'` shows it)."""
    version = "unknown"
    try:
        connection = pika.BlockingConnection(broker.parameters)
        try:
            properties = connection._impl.server_properties or {}
            version = " ".join(_text(properties.get(key, "?")) for key in ("product", "version"))
        finally:
            connection.close()
    except Exception as error:  # noqa: BLE001 - a report only; the consumers reconnect on their own
        logger.warning("could not ask RabbitMQ for its version: %s", error)
    logger.info(
        "rabbitmq worker ready",
        extra={
            "server": version,
            "threads": worker.worker_threads,
            "early_ack_queues": len(early_ack_queues()),
            "early_ack_prefetch": EXPORT_QUEUE_PREFETCH,
            "queue_prefetch": worker.queue_prefetch,
        },
    )
    if worker.queue_prefetch > 2 * worker.worker_threads:
        logger.warning(
            "dramatiq_queue_prefetch %s is above twice the threads: notification and maintenance "
            "messages may wait unacked behind long exports until RabbitMQ's consumer_timeout "
            "redelivers them",
            worker.queue_prefetch,
        )


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
