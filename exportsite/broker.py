"""Dramatiq's Redis broker with prompt pick-up: idle consumers are woken, not left to poll.

Dramatiq's Redis consumer polls: after an empty fetch it sleeps, backing off to the idle
timeout (EXPORTS_WORKER_IDLE_POLL_MS, 1 s), so a new job waited 0.5 s on average before a
worker saw it (measured: queue wait median 0.29 s, up to 0.85 s, for jobs that then ran in
0.04 s). Here every enqueue also publishes the queue's name on one Redis channel; each worker
process listens on it in one thread and wakes that queue's idle consumer, which fetches at
once. The poll stays as the fallback (a wake-up lost while the listener reconnects costs at
most one idle timeout), and an ack wakes its consumer too, so a consumer whose prefetch was
full takes the next message as soon as a slot frees. RabbitMQ pushes messages and needs none
of this.

RabbitMQ (EarlyAckRabbitmqBroker): its `consumer_timeout` (30 minutes by default) closes the
channel of a message left unacked that long and redelivers it, and Dramatiq acks only after the
actor returns, so a long export's message would be handed out again mid-run. Export messages are acked when their run
starts instead (exports/early_ack.py), and their queues prefetch one message, so at most one
waits unacked per export queue. The job's state in the database owns it from then on.
"""

from __future__ import annotations

import logging
import threading

import redis
from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer

logger = logging.getLogger(__name__)

_RECONNECT_MAX_SECONDS = 5.0
_SUBSCRIBE_WAIT_SECONDS = 2.0


class WakeupRedisBroker(RedisBroker):
    """RedisBroker whose enqueues wake the consumers of their queue (module docstring)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.wakeups = Wakeups(self.client, channel=f"{self.namespace}:__wakeups__")

    @property
    def consumer_class(self):
        return _WakeableConsumer

    def enqueue(self, message, *, delay=None):
        message = super().enqueue(message, delay=delay)
        self.wakeups.announce(message.queue_name)  # a delayed message names its delay queue
        return message

    def close(self) -> None:
        self.wakeups.close()
        super().close()


class Wakeups:
    """Queue names published on one channel; in a consuming process, one listener thread sets
    each queue's event when its name arrives."""

    def __init__(self, client: redis.Redis, *, channel: str):
        self._client, self._channel = client, channel
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._listener: threading.Thread | None = None
        self._subscribed = threading.Event()
        self._closed = threading.Event()

    def announce(self, queue_name: str) -> None:
        try:
            self._client.publish(self._channel, queue_name)
        except redis.RedisError:
            # The message itself is enqueued; consumers find it at their next poll.
            logger.warning("could not announce a message on queue %s", queue_name, exc_info=True)

    def event(self, queue_name: str) -> threading.Event:
        """The event set when a message is announced on `queue_name`. The first call starts the
        listener and waits (briefly) until it is subscribed, so the first idle wait is covered."""
        with self._lock:
            if self._listener is None and not self._closed.is_set():
                self._listener = threading.Thread(target=self._listen, name="redis-wakeups", daemon=True)
                self._listener.start()
                self._subscribed.wait(_SUBSCRIBE_WAIT_SECONDS)
            return self._events.setdefault(queue_name, threading.Event())

    def close(self) -> None:
        self._closed.set()
        listener = self._listener
        if listener is not None and listener is not threading.current_thread():
            listener.join(timeout=5)

    def _listen(self) -> None:
        delay = 0.1
        while not self._closed.is_set():
            pubsub = self._client.pubsub()
            try:
                pubsub.subscribe(self._channel)
                delay = 0.1
                while not self._closed.is_set():
                    # A timeout, so close() is noticed within a second.
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self._subscribed.set()
                    elif message["type"] == "message":
                        self._wake(message["data"])
            except redis.RedisError as error:
                logger.warning("wake-up listener lost Redis (%s); consumers poll until it is back", error)
                self._closed.wait(delay)
                delay = min(delay * 2, _RECONNECT_MAX_SECONDS)
            finally:
                pubsub.close()

    def _wake(self, data: bytes | str) -> None:
        queue_name = data.decode() if isinstance(data, bytes) else data
        event = self._events.get(queue_name)
        if event is not None:
            event.set()


class _WakeableConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer, waiting for a wake-up (at most the idle timeout) where it
    would sleep out a backoff."""

    def __init__(self, broker: WakeupRedisBroker, queue_name: str, prefetch: int, timeout: int):
        # A zero timeout makes the parent's backoff sleep zero: the wait in __next__ replaces it.
        super().__init__(broker, queue_name, prefetch, 0)
        self._idle_seconds = timeout / 1000
        self._wake = broker.wakeups.event(queue_name)
        self._idle = False

    def __next__(self):
        if self._idle:
            self._wake.wait(self._idle_seconds)
        # Cleared before the fetch: a message announced from here on sets it again.
        self._wake.clear()
        message = super().__next__()
        self._idle = message is None
        return message

    def ack(self, message) -> None:
        super().ack(message)
        self._wake.set()  # a prefetch slot is free

    def nack(self, message) -> None:
        super().nack(message)
        self._wake.set()


class EarlyAckRabbitmqBroker(RabbitmqBroker):
    """RabbitmqBroker whose export messages are acked when their run starts (module docstring)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Imported here: django_dramatiq builds the broker before the apps are loaded.
        from exports.early_ack import EarlyAck

        self.early_ack = EarlyAck()
        self.add_middleware(self.early_ack)

    @property
    def consumer_class(self):
        return _EarlyAckConsumer

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
        if self.early_ack.acks_early(queue_name):
            # An early ack frees the prefetch slot at once, so the prefetch is the number of
            # messages waiting unacked behind busy threads (each can reach consumer_timeout).
            prefetch = self.early_ack.prefetch
        return super().consume(queue_name, prefetch, timeout)


class _EarlyAckConsumer(_RabbitmqConsumer):
    """Dramatiq's RabbitMQ consumer that can ack a message before its actor runs, and that acks
    a message only on the channel that delivered it."""

    def __next__(self):
        message = super().__next__()
        if message is not None:
            message._delivered_by = self
        return message

    def ack_early(self, message) -> bool:
        """Ack `message` now, from a worker thread (the consumer thread sends it within its poll
        interval); the ack after the actor is then skipped. False if another channel delivered it."""
        if not self._delivered(message):
            return False
        message._acked_early = True  # even if sending fails: the tag is spent, the channel dead
        super().ack(message)
        return True

    def ack(self, message) -> None:
        if getattr(message, "_acked_early", False):
            return
        if self._delivered(message):
            super().ack(message)

    def nack(self, message) -> None:
        if getattr(message, "_acked_early", False):
            return  # the job's own state records the failure
        if self._delivered(message):
            super().nack(message)

    def _delivered(self, message) -> bool:
        # A delivery tag is only valid on its channel; one closed by consumer_timeout or a lost
        # connection was replaced, RabbitMQ has requeued its messages, and the same tag number on
        # the new channel is another message.
        if getattr(message, "_delivered_by", None) is self:
            return True
        logger.info("message from a closed RabbitMQ channel not acked; RabbitMQ has requeued it")
        return False
