"""The Redis broker wakes idle consumers (exportsite.broker): a message is fetched when it is
enqueued, and a freed prefetch slot is refilled at once, not at the next idle poll."""

import threading
import time

import dramatiq
import pytest

from exportsite.broker import WakeupRedisBroker

# Far longer than any wait below: only a wake-up explains a prompt fetch.
IDLE_POLL_MS = 60_000
QUEUE = "wakeup-test"


@pytest.fixture
def broker(own_redis):
    _, url = own_redis
    broker = WakeupRedisBroker(url=url, namespace="wakeup-test")
    broker.declare_queue(QUEUE)
    yield broker
    broker.close()


def _message(number: int) -> dramatiq.Message:
    return dramatiq.Message(queue_name=QUEUE, actor_name="noted", args=(number,), kwargs={}, options={})


def _next_while(consumer, action, *, after: float = 0.3):
    """next(consumer) while another thread runs `action` `after` seconds in; (message, seconds
    the call took)."""

    def run() -> None:
        time.sleep(after)
        action()

    thread = threading.Thread(target=run)
    thread.start()
    started = time.monotonic()
    message = next(consumer)
    waited = time.monotonic() - started
    thread.join()
    return message, waited


def test_an_idle_consumer_fetches_a_new_message_when_it_is_enqueued(broker):
    consumer = broker.consume(QUEUE, prefetch=1, timeout=IDLE_POLL_MS)
    assert next(consumer) is None  # empty: the consumer is idle from now on

    message, waited = _next_while(consumer, lambda: broker.enqueue(_message(1)))

    assert message is not None and message.args == (1,)
    assert waited < 10, f"the consumer slept {waited:.1f}s instead of being woken"
    consumer.ack(message)
    consumer.close()


def test_an_ack_lets_a_full_consumer_fetch_the_next_message_at_once(broker):
    broker.enqueue(_message(1))
    broker.enqueue(_message(2))
    consumer = broker.consume(QUEUE, prefetch=1, timeout=IDLE_POLL_MS)
    first = next(consumer)
    assert first is not None and first.args == (1,)
    assert next(consumer) is None  # prefetch full: the second message waits in Redis

    # A worker thread finishes the first message.
    second, waited = _next_while(consumer, lambda: consumer.ack(first))

    assert second is not None and second.args == (2,)
    assert waited < 10, f"the consumer slept {waited:.1f}s instead of being woken by the ack"
    consumer.ack(second)
    consumer.close()


def test_closing_the_broker_stops_its_wakeup_listener(broker):
    before = set(threading.enumerate())
    broker.consume(QUEUE, prefetch=1, timeout=IDLE_POLL_MS)  # starts the listener
    listeners = [thread for thread in set(threading.enumerate()) - before if thread.name == "redis-wakeups"]
    assert len(listeners) == 1 and listeners[0].is_alive()
    broker.close()
    assert not listeners[0].is_alive()
