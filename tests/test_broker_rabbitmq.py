"""The RabbitMQ broker acks export messages when they start (exportsite.broker, exports.early_ack).

The consumer tests use the machine's RabbitMQ (127.0.0.1:5672), each on a queue of its own that
no worker consumes; tests/exports/test_rabbitmq_timeout.py runs the whole thing past a real
consumer_timeout."""

import logging
import socket
import uuid
from types import SimpleNamespace

import dramatiq
import pytest
from dramatiq.common import dq_name, xq_name

from exports.early_ack import EarlyAck, early_ack_queues
from exports.types import EXPORT_TYPES
from exportsite.broker import EarlyAckRabbitmqBroker
from exportsite.settings.workers import broker_from_url

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _rabbitmq_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError:
        return False
    return True


needs_rabbitmq = pytest.mark.skipif(not _rabbitmq_up(), reason="RabbitMQ is not running on 127.0.0.1:5672")


def test_amqp_urls_get_the_early_ack_broker():
    broker_class = broker_from_url("DRAMATIQ_BROKER_URL", "amqp://guest:guest@rabbit:5672/")[0]
    assert broker_class == "exportsite.broker.EarlyAckRabbitmqBroker", (
        "exportsite/settings/workers.py must give amqp:// URLs the early-ack broker (issue 15, RabbitMQ)"
    )


def test_the_broker_carries_one_early_ack_middleware():
    broker = EarlyAckRabbitmqBroker(url=AMQP_URL)  # connects lazily: nothing opened here
    assert [m for m in broker.middleware if isinstance(m, EarlyAck)] == [broker.early_ack]


def test_only_export_queues_are_acked_early():
    queues = early_ack_queues()
    assert queues == {export_type.queue_name for export_type in EXPORT_TYPES.values()}
    assert len(queues) == len(EXPORT_TYPES)
    assert not queues & {"exports.notify", "exports.maintenance"}


class _Consumer:
    def __init__(self, acked: bool = True):
        self.early: list = []
        self.acked = acked

    def ack_early(self, message) -> bool:
        self.early.append(message)
        return self.acked


def _middleware(consumer: _Consumer, *queues: str) -> EarlyAck:
    middleware = EarlyAck()
    middleware._worker = SimpleNamespace(consumers={q: SimpleNamespace(consumer=consumer) for q in queues})
    return middleware


def _proxy(queue: str, *, redelivered: bool = False) -> SimpleNamespace:
    return SimpleNamespace(queue_name=queue, args=("job-1",), kwargs={}, redelivered=redelivered)


def test_the_middleware_acks_export_messages_and_leaves_the_others(caplog):
    export_queue = EXPORT_TYPES["entries"].queue_name
    consumer = _Consumer()
    middleware = _middleware(consumer, export_queue, "exports.notify")
    export, notify = _proxy(export_queue), _proxy("exports.notify")
    with caplog.at_level(logging.INFO, logger="exports.early_ack"):
        middleware.before_process_message(None, export)
        middleware.before_process_message(None, notify)
    assert consumer.early == [export]
    assert not caplog.records


def test_a_redelivered_or_stale_export_message_is_logged(caplog):
    export_queue = EXPORT_TYPES["entries"].queue_name
    middleware = _middleware(_Consumer(acked=False), export_queue)
    with caplog.at_level(logging.INFO, logger="exports.early_ack"):
        middleware.before_process_message(None, _proxy(export_queue, redelivered=True))
    assert [r.getMessage() for r in caplog.records] == [
        "export message redelivered by RabbitMQ",
        "export message from a closed channel; RabbitMQ has requeued it",
    ]
    assert all(r.export_id == "job-1" for r in caplog.records)


# --- against the machine's RabbitMQ -----------------------------------------------------------


@pytest.fixture
def rabbit_queue():
    broker = EarlyAckRabbitmqBroker(url=AMQP_URL)
    queue = f"early-ack-test-{uuid.uuid4().hex[:12]}"
    broker.declare_queue(queue, ensure=True)
    yield broker, queue
    for name in (queue, dq_name(queue), xq_name(queue)):
        broker.channel.queue_delete(name)
    broker.close()


def _send(broker, queue: str, count: int = 1) -> None:
    for number in range(count):
        broker.enqueue(dramatiq.Message(queue_name=queue, actor_name="noted", args=(number,), kwargs={}, options={}))


def _take(consumer, *, tries: int = 20) -> list:
    """Messages delivered to `consumer` until it stays idle (each idle next() also runs the acks
    other threads queued on its connection)."""
    taken: list = []
    idle = 0
    while idle < 2 and tries:
        tries -= 1
        message = next(consumer)
        if message is None:
            idle += 1
        else:
            idle = 0
            taken.append(message)
    return taken


def _ready(broker, queue: str) -> int:
    return broker.get_queue_message_counts(queue)[0]


@needs_rabbitmq
def test_an_early_ack_reaches_rabbitmq_and_the_ack_after_the_actor_is_silent(rabbit_queue, caplog):
    broker, queue = rabbit_queue
    _send(broker, queue)
    consumer = broker.consume(queue, prefetch=2, timeout=200)
    [message] = _take(consumer)
    assert consumer.ack_early(message)
    with caplog.at_level(logging.WARNING):
        consumer.ack(message)  # what Dramatiq does when the actor returns
        consumer.nack(message)
    assert not caplog.records
    _take(consumer)  # the consumer's thread sends the ack
    consumer.close()  # an unacked message would go back to the queue now
    assert _ready(broker, queue) == 0


@needs_rabbitmq
def test_a_message_of_a_closed_channel_is_never_acked_on_the_new_one(rabbit_queue):
    broker, queue = rabbit_queue
    _send(broker, queue)
    first = broker.consume(queue, prefetch=2, timeout=200)
    [stale] = _take(first)
    first.close()  # as consumer_timeout or a lost connection does: the message is requeued
    second = broker.consume(queue, prefetch=2, timeout=200)
    [again] = _take(second)
    assert again.redelivered and again._tag == stale._tag  # tags restart on every channel
    assert not second.ack_early(stale)
    second.ack(stale)
    _take(second)
    second.close()
    assert _ready(broker, queue) == 1, "the stale tag acked the redelivered message"


@needs_rabbitmq
def test_an_early_ack_queue_holds_one_unacked_message(rabbit_queue, monkeypatch):
    broker, queue = rabbit_queue
    monkeypatch.setattr(broker.early_ack, "acks_early", lambda name: name == queue)
    _send(broker, queue, count=3)
    consumer = broker.consume(queue, prefetch=8, timeout=200)
    [first] = _take(consumer)
    assert consumer.ack_early(first)
    [second] = _take(consumer)  # the slot the early ack freed
    assert second.args == [1] or second.args == (1,)
    consumer.close()
    assert _ready(broker, queue) == 2
