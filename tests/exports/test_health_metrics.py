"""/heartbeat names what failed, quickly; /metrics carries the export metrics; worker metrics and
production settings refuse wrong values; `check --deploy` is clean with a production environment."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dramatiq
import pytest
from django.conf import settings
from django.db import OperationalError
from dramatiq.brokers.stub import StubBroker
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from exports import health, metrics, storage
from exports.engine import export_run
from exports.services import export_request
from exportsite.broker import WakeupRedisBroker
from tests.factories import CampaignFactory, EntryFactory, MarketFactory, UserFactory
from tests.processes import PRODUCTION_REQUIRED, free_port, gunicorn_argv, gunicorn_env

PROJECT = Path(__file__).resolve().parents[2]


def _heartbeat() -> tuple[int, dict, float]:
    began = time.monotonic()
    response = APIClient().get("/heartbeat")
    return response.status_code, response.json(), time.monotonic() - began


def _samples() -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    response = APIClient().get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(autouse=True)
def _uncached_gauges(settings):
    """These tests change jobs between scrapes: each scrape reads the database (the cache has
    its own test in test_security_input.py)."""
    settings.EXPORTS_METRICS_CACHE_SECONDS = 0
    metrics.clear_job_stats_cache()


def _logged_error(caplog, check: str) -> str:
    """The error /heartbeat logged for `check` (the anonymous answer only says "fail")."""
    errors = [r.error for r in caplog.records if r.getMessage() == "health check failed" and r.check == check]
    assert errors, f"no failure logged for {check}"
    return errors[-1]


# --- /heartbeat -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_heartbeat_is_ok_and_names_each_backend():
    status, body, _ = _heartbeat()
    assert status == 200, body
    assert body["status"] == "ok" and body["failed"] == []
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "broker": "ok",
        "storage": "ok",
    }
    assert all(set(check) == {"status", "ms"} for check in body["checks"].values())  # anonymous: no backend
    report = health.health_report()  # the full report, for logs and operators
    expected_broker = "redis" if settings.DRAMATIQ_BROKER_URL.startswith("redis") else "in-process"
    assert report["checks"]["broker"]["backend"] == expected_broker
    assert report["checks"]["database"]["backend"] in ("sqlite", "postgresql")
    assert report["checks"]["storage"]["backend"] in ("local", "s3")


def test_stub_broker_reports_in_process(monkeypatch):
    monkeypatch.setattr(dramatiq, "get_broker", StubBroker)
    assert health._check_broker() == "in-process"


@pytest.mark.django_db
def test_heartbeat_503_names_the_failed_database(monkeypatch, caplog):
    def database_down() -> str:
        raise OperationalError("connection refused")

    monkeypatch.setitem(health.CHECKS, "database", database_down)
    status, body, _ = _heartbeat()
    assert status == 503
    assert body["status"] == "fail" and body["failed"] == ["database"]
    assert set(body["checks"]["database"]) == {"status", "ms"} and body["checks"]["database"]["status"] == "fail"
    assert _logged_error(caplog, "database") == "OperationalError: connection refused"
    assert body["checks"]["broker"]["status"] == body["checks"]["storage"]["status"] == "ok"


@pytest.mark.django_db
def test_heartbeat_503_names_the_failed_storage(monkeypatch, caplog):
    def storage_down(alias: str) -> None:
        raise OSError(f"{alias}: no such bucket")

    monkeypatch.setattr(storage, "storage_ping", storage_down)
    status, body, _ = _heartbeat()
    assert status == 503 and body["failed"] == ["storage"]
    assert "error" not in body["checks"]["storage"]
    assert _logged_error(caplog, "storage").startswith("OSError: exports: no such bucket")


@pytest.mark.django_db
def test_a_hung_check_fails_within_the_budget_and_is_not_started_twice(monkeypatch, caplog):
    release, calls = threading.Event(), []

    def hung() -> str:
        calls.append(1)
        release.wait(10)
        return "local"

    monkeypatch.setattr(health, "_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setitem(health.CHECKS, "storage", hung)
    try:
        for _ in range(2):
            status, body, elapsed = _heartbeat()
            assert status == 503 and body["failed"] == ["storage"]
            assert _logged_error(caplog, "storage").startswith("no answer within 0.5s")
            assert elapsed < 1.5
        assert calls == [1]  # the second heartbeat waited on the same attempt
    finally:
        release.set()
        health._inflight["storage"][1].result(timeout=5)


@pytest.fixture
def own_redis_broker(own_redis, monkeypatch):
    """The app's broker on `own_redis`; yields the redis-server process."""
    process, url = own_redis
    broker = WakeupRedisBroker(url=url)
    monkeypatch.setattr(dramatiq, "get_broker", lambda: broker)
    yield process
    broker.close()


@pytest.mark.django_db
def test_stopping_redis_makes_the_broker_check_fail_quickly(own_redis_broker, caplog):
    process = own_redis_broker
    status, body, _ = _heartbeat()
    assert status == 200, body
    assert body["checks"]["broker"] == {"status": "ok", "ms": body["checks"]["broker"]["ms"]}
    assert health.health_report()["checks"]["broker"]["backend"] == "redis"

    process.terminate()
    process.wait(timeout=10)
    status, body, elapsed = _heartbeat()
    assert status == 503 and body["failed"] == ["broker"]
    assert _logged_error(caplog, "broker").startswith("ConnectionError")
    assert elapsed < 4


@pytest.mark.django_db
def test_a_frozen_redis_makes_the_broker_check_fail_within_four_seconds(own_redis_broker):
    process = own_redis_broker
    try:
        assert _heartbeat()[0] == 200
        process.send_signal(signal.SIGSTOP)  # accepts connections, never answers
        status, body, elapsed = _heartbeat()
        assert status == 503 and body["failed"] == ["broker"]
        assert elapsed < 4
    finally:
        process.send_signal(signal.SIGCONT)
        health._inflight["broker"][1].result(timeout=15)


# --- /metrics ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_recorded_job_events_are_exposed_at_metrics():
    before = _samples()
    metrics.record_job_end("entries", "FINISHED", 12.5, rows=40, bytes=2048)
    metrics.record_job_end("entries", "FAILED", None, rows=5, bytes=5)
    metrics.record_retry("entries")
    metrics.record_failure("entries", "data")
    after = _samples()

    def delta(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta("exportsite_export_jobs_ended_total", export_type="entries", status="FINISHED") == 1
    assert delta("exportsite_export_jobs_ended_total", export_type="entries", status="FAILED") == 1
    assert delta("exportsite_export_duration_seconds_count", export_type="entries") == 1
    assert delta("exportsite_export_duration_seconds_bucket", export_type="entries", le="15.0") == 1
    assert delta("exportsite_export_rows_total", export_type="entries") == 40  # only finished files count
    assert delta("exportsite_export_bytes_total", export_type="entries") == 2048
    assert delta("exportsite_export_retries_total", export_type="entries") == 1
    assert delta("exportsite_export_failures_total", export_type="entries", kind="data") == 1
    with pytest.raises(ValueError, match="not a final export status"):
        metrics.record_job_end("entries", "PENDING", 1.0)


def _pending_entries_export(entries: int = 7):
    campaign = CampaignFactory.create()
    market = MarketFactory(campaign=campaign)
    EntryFactory.create_batch(entries, campaign=campaign, market=market)
    user = UserFactory(is_superuser=True)
    export, created = export_request(campaign_id=campaign.pk, body={"exportType": "entries"}, user=user)
    assert created
    return export


@pytest.mark.django_db
def test_pending_and_triggered_gauges_are_read_from_the_database():
    export = _pending_entries_export()
    samples = _samples()
    assert _value(samples, "exportsite_export_jobs_collect_ok") == 1
    assert _value(samples, "exportsite_export_jobs_active", export_type="entries", status="PENDING") == 1
    assert _value(samples, "exportsite_export_jobs_active", export_type="entries", status="TRIGGERED") == 0
    assert _value(samples, "exportsite_export_oldest_pending_age_seconds", export_type="entries") >= 0
    # every registered type is present, so alerts never see a missing series
    assert ("exportsite_export_jobs_active", (("export_type", "scoring"), ("status", "PENDING"))) in samples

    type(export).objects.filter(pk=export.pk).update(status="TRIGGERED")
    samples = _samples()
    assert _value(samples, "exportsite_export_jobs_active", export_type="entries", status="PENDING") == 0
    assert _value(samples, "exportsite_export_jobs_active", export_type="entries", status="TRIGGERED") == 1


@pytest.mark.django_db
def test_a_scrape_survives_a_database_error(monkeypatch):
    def broken():
        raise OperationalError("database is down")

    monkeypatch.setattr(metrics, "_active_job_stats", broken)
    samples = _samples()
    assert _value(samples, "exportsite_export_jobs_collect_ok") == 0
    assert not any(name == "exportsite_export_jobs_active" for name, _ in samples)


@pytest.mark.django_db
def test_gauges_follow_an_in_process_run():
    export = _pending_entries_export()
    export_run(export_id=str(export.pk))
    export.refresh_from_db()
    assert export.status == "FINISHED"
    samples = _samples()
    assert _value(samples, "exportsite_export_jobs_active", export_type="entries", status="PENDING") == 0
    assert _value(samples, "exportsite_export_jobs_active", export_type="entries", status="TRIGGERED") == 0


@pytest.mark.django_db
def test_an_in_process_run_is_counted_at_metrics():
    export = _pending_entries_export(entries=7)
    before = _samples()
    export_run(export_id=str(export.pk))
    export.refresh_from_db()
    assert export.status == "FINISHED"
    after = _samples()

    def delta(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta("exportsite_export_jobs_ended_total", export_type="entries", status="FINISHED") == 1
    assert delta("exportsite_export_duration_seconds_count", export_type="entries") == 1
    assert delta("exportsite_export_rows_total", export_type="entries") == 7
    assert delta("exportsite_export_bytes_total", export_type="entries") == export.bytes_written


# --- Worker metrics middleware and settings --------------------------------------------------


def test_worker_metrics_middleware_is_inert_without_a_process_boot():
    """In-thread workers (tests, `manage.py serve`) never boot a process: nothing must break."""
    broker = StubBroker(middleware=[metrics.WorkerMetrics()])
    done = []

    @dramatiq.actor(broker=broker, queue_name="metrics-inert")
    def record(value):
        done.append(value)

    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        record.send(1)
        broker.join("metrics-inert")
        worker.join()
    finally:
        worker.stop()
    assert done == [1]


def _manage(args: list[str], env: dict, tmp_path) -> subprocess.CompletedProcess:
    full_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("EXPORTS_", "DJANGO_", "PROMETHEUS_", "AWS_")) and key != "DATABASE_URL"
    }
    full_env.update(
        {
            "DJANGO_SETTINGS_MODULE": "exportsite.settings",
            "EXPORTSITE_VAR_DIR": str(tmp_path),
            "DRAMATIQ_BROKER_URL": "",
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT, env=full_env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EXPORTS_WORKER_METRICS_PORT": "9191"}, "PROMETHEUS_MULTIPROC_DIR is required when EXPORTS_WORKER"),
        (
            {"EXPORTS_WORKER_METRICS_PORT": "9191", "PROMETHEUS_MULTIPROC_DIR": "/no/such/folder"},
            "PROMETHEUS_MULTIPROC_DIR must name an existing folder",
        ),
        ({"EXPORTS_WORKER_METRICS_PORT": "70000"}, "EXPORTS_WORKER_METRICS_PORT must be <= 65535"),
        ({"DJANGO_SECURE_SSL_REDIRECT": "maybe", "DJANGO_DEBUG": "0"}, "DJANGO_SECURE_SSL_REDIRECT must be a boolean"),
    ],
)
def test_bad_metrics_or_security_settings_stop_start_up(env, message, tmp_path):
    base = {**PRODUCTION_REQUIRED, "DJANGO_DEBUG": "1", "DJANGO_ALLOWED_HOSTS": "exports.example.com"}
    result = _manage(["check"], {**base, **env}, tmp_path)
    assert result.returncode != 0
    assert message in result.stderr


def test_worker_metrics_middleware_is_added_only_with_a_port(tmp_path):
    show = ["shell", "-c", "from django.conf import settings; print(settings.DRAMATIQ_BROKER['MIDDLEWARE'][-1])"]
    without = _manage(show, {"DJANGO_DEBUG": "1"}, tmp_path)
    assert without.returncode == 0, without.stderr
    assert "WorkerMetrics" not in without.stdout
    port_env = {"DJANGO_DEBUG": "1", "EXPORTS_WORKER_METRICS_PORT": "9191", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    with_port = _manage(show, port_env, tmp_path)
    assert with_port.returncode == 0, with_port.stderr
    assert with_port.stdout.strip().endswith("exports.metrics.WorkerMetrics")


# --- Production settings and gunicorn ---------------------------------------------------------

PRODUCTION_ENV = {
    **PRODUCTION_REQUIRED,
    "DJANGO_ALLOWED_HOSTS": "exports.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://exports.example.com",
    "DJANGO_HSTS_SECONDS": "31536000",
    "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "1",
    "DJANGO_HSTS_PRELOAD": "1",
    "DJANGO_SECURE_SSL_REDIRECT": "1",
}


def test_check_deploy_passes_with_a_production_environment(tmp_path):
    result = _manage(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_flags_only_the_opt_in_https_settings_by_default(tmp_path):
    """Without the opt-ins, the deploy check names exactly HSTS and the HTTPS redirect, which are
    left to the operator on purpose (docs/operations.md, "Production"), and nothing else."""
    minimal = {**PRODUCTION_REQUIRED, "DJANGO_ALLOWED_HOSTS": PRODUCTION_ENV["DJANGO_ALLOWED_HOSTS"]}
    result = _manage(["check", "--deploy"], minimal, tmp_path)
    assert result.returncode == 0, result.stderr
    flagged = sorted({word.rstrip(":") for word in result.stderr.split() if word.startswith("(security.")})
    assert flagged == ["(security.W004)", "(security.W008)"], result.stderr


def test_production_responses_carry_the_security_headers(tmp_path):
    script = (
        "from django.test import Client; "
        "r = Client(HTTP_X_FORWARDED_PROTO='https').get('/heartbeat', HTTP_HOST='exports.example.com'); "
        "print(r.status_code, r['Strict-Transport-Security'], r['X-Frame-Options'], r['X-Content-Type-Options']); "
        "r = Client().get('/export-types', HTTP_HOST='exports.example.com'); print(r.status_code, r['Location']); "
        "r = Client().get('/heartbeat', HTTP_HOST='exports.example.com'); print(r.status_code)"
    )
    result = _manage(["shell", "-c", script], PRODUCTION_ENV, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()[-3:]
    assert lines[0].split()[1:] == ["max-age=31536000;", "includeSubDomains;", "preload", "DENY", "nosniff"]
    assert lines[1] == "301 https://exports.example.com/export-types"
    assert lines[2].split()[0] in ("200", "503")  # plain-HTTP probes are not redirected


def test_gunicorn_config_reads_and_validates_its_environment(tmp_path):
    code = (
        "import json, exportsite.gunicorn as g; "
        "print(json.dumps({k: getattr(g, k) for k in ('bind', 'workers', 'threads', 'timeout', 'worker_class')}))"
    )
    env = {**os.environ, "PORT": "8123", "EXPORTSITE_WEB_WORKERS": "3", "EXPORTSITE_WEB_THREADS": "4"}
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        '{"bind": ["0.0.0.0:8123"], "workers": 3, "threads": 4, "timeout": 60, "worker_class": "gthread"}'
    )
    env = {**os.environ, "EXPORTSITE_WEB_WORKERS": "zero"}
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "EXPORTSITE_WEB_WORKERS must be an integer" in result.stderr


def test_gunicorn_serves_the_app_and_logs_json_access_lines(tmp_path):
    import json
    import urllib.request

    port = free_port()
    env = gunicorn_env(tmp_path, port, DJANGO_DEBUG="1")
    server = subprocess.Popen(
        gunicorn_argv(),
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline, status = time.monotonic() + 30, None
        while time.monotonic() < deadline and status is None:
            try:
                url = f"http://127.0.0.1:{port}/export-types"
                urllib.request.urlopen(urllib.request.Request(url, headers={"X-Request-ID": "gx-1"}), timeout=2)
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                time.sleep(0.2)
        assert status == 401  # served by Django through gunicorn
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"gunicorn.access"' in line]
    assert any(
        line["path"] == "/export-types" and line["status"] == 401 and line["correlation_id"] == "gx-1" for line in lines
    ), output
