"""The OpenAPI schema validates and matches what the API does (schemathesis fuzzes every operation
through the WSGI app with a superuser's token), and the docs page works offline."""

import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from exports.engine import export_run
from exports.models import Export
from exports.services import export_request
from tests.factories import CampaignFactory, EntryFactory, MarketFactory, UserFactory

PROJECT = Path(__file__).resolve().parents[2]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_schema_validates_without_warnings(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("EXPORTS_", "DJANGO_", "AWS_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "exportsite.settings", "DJANGO_DEBUG": "1"})
    env["EXPORTSITE_VAR_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", tmp_path / "s.yml"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "Error" not in result.stderr, result.stderr
    assert (tmp_path / "s.yml").read_text().startswith("openapi: 3.0.3")


@pytest.mark.django_db
def test_every_endpoint_is_documented_with_unique_operation_ids():
    schema = APIClient().get("/api/schema/?format=json").json()
    operations = {
        (method.upper(), path): operation["operationId"]
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    assert set(operations) == {
        ("POST", "/auth/token"),
        ("POST", "/auth/token/refresh"),
        ("GET", "/campaigns/{campaign_id}/exports"),
        ("POST", "/campaigns/{campaign_id}/exports"),
        ("GET", "/campaigns/{campaign_id}/exports/{export_id}"),
        ("DELETE", "/ccpa/users/{user_id}"),
        ("GET", "/export-types"),
        ("GET", "/heartbeat"),
        ("GET", "/downloads/{token}"),
        ("GET", "/metrics"),
    }
    assert len(set(operations.values())) == len(operations)
    error = schema["components"]["schemas"]["Error"]
    assert error["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    for (method, path), _ in operations.items():
        responses = schema["paths"][path][method.lower()]["responses"]
        for status, response in responses.items():
            if status.startswith(("4", "5")) and path not in ("/heartbeat",):
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


@pytest.mark.django_db
def test_swagger_ui_is_served_from_local_static_files_only():
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert re.findall(r"https?://", html) == [], "the docs page must not load anything from another host"
    assert '"validatorUrl": null' in html  # no badge fetched from swagger.io
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not a local static file"
    assert '"/api/schema/"' in html


_EXPORT_SHAPES = {
    "TRIGGERED": {"rows_written": 10, "bytes_written": 300, "attempts": 1, "correlation_id": "req-1"},
    "FAILED": {"error_message": "No markets.", "error_payload": "", "failure_kind": "data", "attempts": 1},
    "EXPIRED": {"error_message": "Too long.", "expired_reason": "timeout", "attempts": 2},
    "CANCELLED": {},
}


@pytest.fixture
def fuzz_target(db):
    """A superuser's token, and a campaign with entries and exports (one FINISHED) to aim at."""
    campaign = CampaignFactory.create(name='Fuzzed, "campaign"')
    market = MarketFactory(campaign=campaign)
    EntryFactory.create_batch(3, campaign=campaign, market=market)
    user = UserFactory(is_superuser=True, username="fuzzer")
    client = APIClient()
    token = client.post("/auth/token", {"username": "fuzzer", "password": "pw-123456"}, format="json").json()
    # One job in each shape the export object takes, so the list and detail responses are
    # checked against the schema with every optional field present somewhere.
    finished, _ = export_request(campaign_id=campaign.pk, body={"exportType": "entries"}, user=user)
    assert export_run(export_id=str(finished.pk)) == "finished"
    for status, fields in _EXPORT_SHAPES.items():
        Export.objects.create(
            campaign=campaign, export_type="entries", parameters_digest=status.ljust(64, "0"), status=status, **fields
        )
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token['access']}")
    path = client.get(f"/campaigns/{campaign.pk}/exports/{finished.pk}").json()["path"]
    download_token = path.split("/downloads/", 1)[1] if "/downloads/" in path else None  # local storage
    # Like Django's test client (which reconnects them after each of its requests, hence only
    # now): requests sent straight to the WSGI app must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"token": token, "campaign_id": str(campaign.pk), "export_id": str(finished.pk), "download": download_token}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# Loaded when the module is collected (the schema needs no database). schemathesis' lazy
# `from_fixture` loader does not work with pytest 9.2 (it sets the removed `Node._nodeid`).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


def _coin(*values) -> bool:
    """A deterministic coin flip (hash() of str is salted per process)."""
    return zlib.crc32(repr(values).encode()) % 2 == 0


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")),
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_conforms_to_its_schema(case, fuzz_target):
    """No 5xx, and every status, content type, header and body as documented."""
    # Half the cases aim at the real campaign (and export), so the fuzzing gets past the 404s.
    if case.path_parameters and _coin(case.body, case.query):
        if "campaign_id" in case.path_parameters:
            case.path_parameters["campaign_id"] = fuzz_target["campaign_id"]
        if "export_id" in case.path_parameters:
            case.path_parameters["export_id"] = fuzz_target["export_id"]
    if "token" in (case.path_parameters or {}) and fuzz_target["download"] and _coin(case.path_parameters):
        case.path_parameters["token"] = fuzz_target["download"]
    if case.path == "/auth/token/refresh" and isinstance(case.body, dict) and _coin(case.body):
        case.body["refresh"] = fuzz_target["token"]["refresh"]
    # Uncompressed: schemathesis's WSGI transport does not unpack gzip (tests/test_compression.py covers it).
    headers = {"Authorization": f"Bearer {fuzz_target['token']['access']}", "Accept-Encoding": "identity"}
    case.call_and_validate(headers=headers, checks=CHECKS)
