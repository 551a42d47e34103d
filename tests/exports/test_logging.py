"""JSON log lines carry the request's correlation id into the worker, and no personal data."""

import io
import json
import logging

import pytest

from exports.engine import export_run
from exportsite.logging import CorrelationIdFilter, JsonLineFormatter
from tests.factories import EntryFactory, FanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    handler.addFilter(CorrelationIdFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def test_request_id_reaches_the_worker_log_lines(json_log, reporter_client, campaign):
    fan = FanFactory(email="secret.person@example.com", first_name="Secretname")
    EntryFactory(campaign=campaign, market=campaign.markets.get(), fan=fan)
    response = reporter_client.post(
        f"/campaigns/{campaign.pk}/exports", {"exportType": "entries"}, format="json", HTTP_X_REQUEST_ID="abc"
    )
    export_id = response.json()["id"]
    assert response["X-Request-ID"] == "abc" and response.json()["correlationId"] == "abc"
    assert export_run(export_id=export_id) == "finished"  # as the worker does, outside the request
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    worker_lines = [line for line in lines if line["logger"] == "exports.engine.run"]
    assert {line["event"] for line in worker_lines} >= {"export started", "export finished"}
    assert all(line["correlation_id"] == "abc" and line["export_id"] == export_id for line in worker_lines)
    assert all(set(line) >= {"timestamp", "level", "event", "correlation_id"} for line in lines)
    assert lines[0]["timestamp"].endswith("Z")
    text = json_log.getvalue()
    assert "secret.person" not in text and "Secretname" not in text


def test_unsafe_request_ids_are_replaced(reporter_client, campaign):
    response = reporter_client.get(f"/campaigns/{campaign.pk}/exports", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline" and len(response["X-Request-ID"]) == 32
