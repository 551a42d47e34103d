"""OpenTelemetry tracing (exportsite/tracing.py): off by default and then not even imported; on,
one trace goes from the API request through the enqueue to the worker's run span, with a span per
COPY batch or page and per part under it.

The traced run (PostgreSQL pass: it starts processes) sends to an OTLP/HTTP receiver inside this
test process, from a real gunicorn and a real `rundramatiq` worker on a private Redis.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from django.db import connection

from tests.conftest import is_postgres
from tests.processes import (
    Procs,
    RedisServer,
    database_url,
    free_port,
    gunicorn_argv,
    gunicorn_env,
    process_env,
    start_worker,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent

IMPORTS_OF_A_WORKER = """
import sys
import django
django.setup()
import exports.actors, exports.engine, exports.engine.copy, exports.engine.uploader  # noqa
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] == "opentelemetry")))
""".replace("import sys", "import json, sys", 1)


def _imported(env_extra: dict[str, str], tmp_path: Path) -> list[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "exportsite.settings",
        "DJANGO_DEBUG": "1",
        "EXPORTSITE_VAR_DIR": str(tmp_path),
        **env_extra,
    }
    result = subprocess.run(
        [sys.executable, "-c", IMPORTS_OF_A_WORKER], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_off_by_default_opentelemetry_is_not_even_imported(tmp_path):
    assert _imported({}, tmp_path) == []
    assert _imported({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_SDK_DISABLED": "true"}, tmp_path) == []
    on = _imported({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, tmp_path)
    assert "opentelemetry.sdk.trace" in on and "opentelemetry.instrumentation.django" in on


# --- one trace across the web and the worker (PostgreSQL pass) ----------------------------------


class _Receiver:
    """An OTLP/HTTP trace receiver: every span POSTed to /v1/traces, with its process's role."""

    def __init__(self):
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        self.spans: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource_spans in request.resource_spans:
                    resource = {a.key: _value(a) for a in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            receiver.spans.append(_span(span, resource))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _value(attribute):
    kind = attribute.value.WhichOneof("value")
    return getattr(attribute.value, kind) if kind else None


def _span(span, resource: dict) -> dict:
    return {
        "name": span.name,
        "trace": span.trace_id.hex(),
        "id": span.span_id.hex(),
        "parent": span.parent_span_id.hex(),
        "role": resource.get("exportsite.role"),
        "pid": resource.get("process.pid"),
        "attributes": {a.key: _value(a) for a in span.attributes},
    }


@pytest.fixture
def traced(transactional_db, tmp_path) -> Iterator[tuple[str, _Receiver, Procs, dict]]:
    receiver = _Receiver()
    (tmp_path / "logs").mkdir()
    procs = Procs(tmp_path / "logs")
    try:
        redis = RedisServer(procs).start()
        settings = {
            "DJANGO_DEBUG": "1",
            "DJANGO_SECRET_KEY": "tracing-tests-secret-key-long-enough-for-hs256-signing",
            "LOG_LEVEL": "INFO",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,  # the standard variable; nothing else set
        }
        env = process_env(
            database_url=database_url(connection.settings_dict),
            broker_url=redis.url,
            var_dir=tmp_path / "var",
            settings=settings,
        )
        start_worker(procs, "worker", env)
        port = free_port()
        web_env = gunicorn_env(tmp_path / "var", port, **{k: v for k, v in env.items() if k not in ("PATH", "HOME")})
        procs.start("gunicorn", gunicorn_argv(), env=web_env)
        yield f"http://127.0.0.1:{port}", receiver, procs, env
    finally:
        procs.stop_all()
        receiver.stop()


TOKEN = """
import django
django.setup()
from rest_framework_simplejwt.tokens import RefreshToken
from tests.factories import UserFactory
print(str(RefreshToken.for_user(UserFactory(is_superuser=True)).access_token))
"""


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="starts gunicorn and a worker against PostgreSQL (PostgreSQL pass)")
def test_one_trace_links_the_api_request_the_enqueue_and_the_workers_run(traced):
    from tests.exports.test_faults import campaign_with_entries

    base, receiver, procs, env = traced
    campaign, rows = campaign_with_entries(30_000)
    made = subprocess.run([sys.executable, "-c", TOKEN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    headers = {"Authorization": f"Bearer {made.stdout.strip()}", "X-Request-ID": "trace-me-1"}
    wait_for(lambda: _answers(base, headers), timeout=30, what="gunicorn to answer", procs=procs)

    created = requests.post(f"{base}/campaigns/{campaign.pk}/exports", json={"exportType": "entries"}, headers=headers)
    assert created.status_code == 201, created.text
    export_id = created.json()["id"]
    wait_for(
        lambda: _status(base, headers, campaign.pk, export_id) == "FINISHED", timeout=60, what="the export", procs=procs
    )
    # The processes send their spans in batches (OTEL_BSP_SCHEDULE_DELAY, 5 s by default).
    wait_for(lambda: _run_span(receiver, export_id) and _children(receiver, "export.part_upload"), timeout=30,
             what="the worker's spans", procs=procs)  # fmt: skip

    run = _run_span(receiver, export_id)
    assert run is not None
    trace = [span for span in receiver.spans if span["trace"] == run["trace"]]
    by_id = {span["id"]: span for span in trace}
    enqueue = by_id[run["parent"]]  # the run's parent came through the message options
    request = by_id[enqueue["parent"]]
    assert enqueue["name"] == "export.enqueue" and enqueue["role"] == "web" and run["role"] == "worker"
    assert request["role"] == "web" and request["attributes"].get("http.method", "POST") == "POST"
    assert request["attributes"]["correlation_id"] == "trace-me-1" == run["attributes"]["correlation_id"]
    assert run["attributes"]["export.type"] == "entries" and run["attributes"]["campaign.id"] == campaign.pk
    assert request["pid"] and run["pid"] and request["pid"] != run["pid"]  # two processes

    # Under the run: one span per COPY batch (PostgreSQL: the fast path) and one per part.
    batches = [span for span in trace if span["name"] == "export.copy_batch"]
    parts = [span for span in trace if span["name"] == "export.part_upload"]
    assert batches and parts and all(span["parent"] == run["id"] for span in batches + parts)
    assert sum(span["attributes"]["rows"] for span in batches) == rows
    assert sum(span["attributes"]["bytes"] for span in parts) == created_bytes(base, headers, campaign.pk, export_id)


def created_bytes(base: str, headers: dict, campaign_id: int, export_id: str) -> int:
    answer = requests.get(f"{base}/campaigns/{campaign_id}/exports/{export_id}", headers=headers, timeout=5).json()
    return answer["bytes"]


def _answers(base: str, headers: dict) -> bool:
    try:
        return requests.get(f"{base}/export-types", headers=headers, timeout=5).ok
    except requests.RequestException:
        return False


def _status(base: str, headers: dict, campaign_id: int, export_id: str) -> str:
    return requests.get(f"{base}/campaigns/{campaign_id}/exports/{export_id}", headers=headers, timeout=5).json()[
        "status"
    ]


def _run_span(receiver: _Receiver, export_id: str) -> dict | None:
    runs = [s for s in receiver.spans if s["name"] == "export.run" and s["attributes"].get("export.id") == export_id]
    return runs[0] if runs else None


def _children(receiver: _Receiver, name: str) -> list[dict]:
    return [span for span in receiver.spans if span["name"] == name]
