"""The RabbitMQ broker end to end: a job requested in this process goes through the machine's
RabbitMQ to a real `rundramatiq` worker (amqp://) and finishes (PostgreSQL mode only)."""

import socket

import dramatiq
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from campaigns.models import Campaign
from campaigns.services import demo_dataset_create
from exports.models import Export
from tests.conftest import TERMINAL
from tests.exports.test_faults import (  # noqa: F401 - `procs` is a fixture
    procs,
    pytestmark,
    request_entries,
    service_env,
    superuser,
)
from tests.processes import start_worker, wait_for

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def _rabbitmq_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError:
        return False
    return True


@pytest.fixture
def via_rabbitmq(monkeypatch):
    """This process's actors enqueue to RabbitMQ, as a web process with DRAMATIQ_BROKER_URL=amqp:// does."""
    if not _rabbitmq_up():
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672 (.ci/run starts it)")
    current = dramatiq.get_broker()
    broker = RabbitmqBroker(url=AMQP_URL)
    for actor in list(current.actors.values()):
        broker.declare_actor(actor)
        monkeypatch.setattr(actor, "broker", broker)
    monkeypatch.setattr(dramatiq.broker, "global_broker", broker)
    broker.flush_all()
    yield broker
    broker.flush_all()
    broker.close()


def test_jobs_flow_through_rabbitmq_to_a_worker(procs, tmp_path, via_rabbitmq):  # noqa: F811 - fixture
    demo_dataset_create(campaigns=3, entries=60, seed=5)
    user = superuser()
    exports = [request_entries(campaign, user).pk for campaign in Campaign.objects.order_by("pk")]
    start_worker(procs, "rabbit-worker", service_env(tmp_path, broker_url=AMQP_URL))
    wait_for(
        lambda: Export.objects.filter(pk__in=exports, status__in=TERMINAL).count() == len(exports),
        timeout=60,
        what="the jobs sent through RabbitMQ to end",
        procs=procs,
    )
    assert set(Export.objects.filter(pk__in=exports).values_list("status", "attempts")) == {("FINISHED", 1)}
