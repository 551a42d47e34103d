"""Issue 12, findings 7, 8, 10 and 12: bad input is a 4xx in the error shape (never a 500),
/heartbeat tells anonymous callers only ok or fail, download links stay out of logs and caches,
and /metrics can be locked down and does not query the database on every scrape."""

import io
import ipaddress
import json
import logging
import subprocess
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from gunicorn.config import Config
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

from exports import apis, health, metrics, storage
from exports.models import Export
from exports.parsers import MAX_DEPTH, json_depth
from exportsite.conf import export_settings
from exportsite.gunicorn import JsonAccessLogger
from exportsite.logging import CorrelationIdFilter, JsonLineFormatter
from tests.conftest import is_postgres, jwt_client
from tests.factories import UserFactory
from tests.processes import PRODUCTION_REQUIRED, free_port, gunicorn_argv, gunicorn_env

PROJECT = Path(__file__).resolve().parents[2]
DEEP = "[" * 100_000 + "]" * 100_000


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "message", "payload"}, body
    assert body["error"]["status"] == response.status_code
    return body["error"]


@pytest.fixture
def superuser_client(db):
    return jwt_client(UserFactory(is_superuser=True))


# --- Finding 7: too-deep JSON, too-big bodies, control characters ---------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/auth/token", "/auth/token/refresh"])
def test_too_deep_json_is_400_for_anonymous_callers(path):
    response = APIClient().post(path, DEEP, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    error = _error(response)
    assert error["message"] == "Malformed request body."
    assert f"nested deeper than {MAX_DEPTH} levels" in error["payload"]


def test_too_deep_json_is_400_on_the_export_request(superuser_client, campaign):
    response = superuser_client.post(f"/campaigns/{campaign.pk}/exports", DEEP, content_type="application/json")
    assert response.status_code == 400 and _error(response)["message"] == "Malformed request body."
    assert not Export.objects.exists()


def test_nesting_up_to_the_limit_parses_and_one_more_level_does_not(superuser_client, campaign):
    url = f"/campaigns/{campaign.pk}/exports"
    at_limit = '{"exportType": "entries", "filters": ' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}"
    assert json_depth(at_limit) == MAX_DEPTH
    answer = superuser_client.post(url, at_limit, content_type="application/json")
    assert answer.status_code == 400 and _error(answer)["message"].startswith("Invalid 'filters' value")  # parsed
    too_deep = '{"exportType": "entries", "filters": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}"
    refused = superuser_client.post(url, too_deep, content_type="application/json")
    assert refused.status_code == 400 and _error(refused)["message"] == "Malformed request body."


@pytest.mark.django_db
def test_a_bytes_to_bytes_charset_is_refused_not_decompressed():
    response = APIClient().post("/auth/token", b"x", content_type="application/json; charset=bz2_codec")
    assert response.status_code == 400 and "Unsupported charset" in _error(response)["payload"]


def test_json_depth_ignores_brackets_in_strings_and_stays_linear():
    assert json_depth('{"a": ["[[[", "\\"[", {"b": "{{"}]}') == 3
    assert json_depth("7") == 0
    began = time.monotonic()
    for hostile in ('"' + '\\"' * 500_000, '"' + '\\"' * 500_000 + "\\", "[" * 1_000_000):
        json_depth(hostile)
    assert time.monotonic() - began < 2  # escaped quotes without an end used to be quadratic in naive scans


@pytest.fixture
def small_body_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    return 1024


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/auth/token", "/campaigns/1/exports", "/admin/login/", "/heartbeat"])
def test_a_body_over_the_limit_is_413_in_the_error_shape(small_body_limit, path):
    body = json.dumps({"username": "x" * 2000, "password": "y"})
    response = APIClient().post(path, body, content_type="application/json", HTTP_X_REQUEST_ID="big-1")
    assert response.status_code == 413, response.content[:300]
    error = _error(response)
    assert error["message"] == "Request body too large."
    assert error["payload"] == "The request body must be at most 1024 bytes."
    assert response["X-Request-ID"] == "big-1"


def test_a_body_at_the_limit_is_still_parsed(small_body_limit, superuser_client, campaign):
    body = json.dumps({"exportType": "entries", "webhookUrl": ""}).ljust(small_body_limit)
    response = superuser_client.post(f"/campaigns/{campaign.pk}/exports", body, content_type="application/json")
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_a_parser_reading_a_body_over_the_limit_answers_413_too(small_body_limit, campaign):
    """Without the middleware's early answer (the view called directly), the DRF handler maps
    Django's RequestDataTooBig to 413 as well."""
    user = UserFactory.create(is_superuser=True)
    request = APIRequestFactory().post(f"/campaigns/{campaign.pk}/exports", {"exportType": "x" * 2000}, format="json")
    force_authenticate(request, user=user)
    response = apis.CampaignExportsApi.as_view()(request, campaign_id=str(campaign.pk))
    assert response.status_code == 413
    assert response.data["error"]["message"] == "Request body too large."


@pytest.mark.parametrize("char", ["\x00", "\x01", "\n", "\x1f", "\x7f", "\x85", "\x9f"])
def test_control_characters_in_the_webhook_url_are_400(superuser_client, campaign, char):
    """A NUL used to give 201 on SQLite and 500 on PostgreSQL (its adapter refuses NUL)."""
    body = {"exportType": "entries", "webhookUrl": f"https://hooks.example.com/a{char}b"}
    response = superuser_client.post(f"/campaigns/{campaign.pk}/exports", body, format="json")
    assert response.status_code == 400, response.content
    error = _error(response)
    assert error["message"] == "Invalid 'webhookUrl' value: control characters are not allowed."
    assert not Export.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"exportType": "codeWaves", "dateKey": "2024\x00"}, "dateKey"),
        ({"exportType": "entries\x00"}, "exportType"),
        ({"exportType": "entries", "columns": ["id", "contest_title\x00"]}, "columns[1]"),
        ({"exportType": "entries", "format": "csv\x7f"}, "format"),
        ({"exportType": "entries", "compression": "gzip\x00"}, "compression"),
        ({"exportType": "entries", "filters": {"createdFrom": "now\x00"}}, "filters.createdFrom"),
        ({"exportType": "entries", "filters": {"createdTo\x00": "now"}}, "filters.<key>"),
        ({"exportType": "entries", "nope\x01": 1}, "<key>"),
    ],
)
def test_control_characters_in_any_string_of_the_body_are_400_naming_it(superuser_client, campaign, body, field):
    response = superuser_client.post(f"/campaigns/{campaign.pk}/exports", body, format="json")
    assert response.status_code == 400, response.content
    assert _error(response)["message"] == f"Invalid '{field}' value: control characters are not allowed."
    assert not Export.objects.exists()


@pytest.mark.django_db
def test_control_characters_in_path_ids_are_400_naming_the_id(campaign):
    client = jwt_client(UserFactory(is_superuser=True))
    export_id = "00000000-0000-0000-0000-000000000000"
    cases = [
        ("get", "/campaigns/1%00/exports", "campaign_id"),
        ("post", "/campaigns/1%0A/exports", "campaign_id"),
        ("get", f"/campaigns/{campaign.pk}/exports/{export_id}%01", "export_id"),
        ("get", f"/campaigns/{campaign.pk}%7F/exports/{export_id}", "campaign_id"),
        ("delete", "/ccpa/users/fan%00-42", "user_id"),
        ("delete", "/ccpa/users/fan%C2%85", "user_id"),  # U+0085, a C1 control
    ]
    for method, path, field in cases:
        response = getattr(client, method)(path, {"exportType": "entries"}, format="json")
        assert response.status_code == 400, (path, response.content)
        assert _error(response)["message"] == f"Invalid '{field}' value: control characters are not allowed."
    # Authentication still comes first: an anonymous caller learns nothing about the id.
    assert APIClient().get("/campaigns/1%00/exports").status_code == 401


def test_control_characters_in_the_list_query_are_400(superuser_client, campaign):
    response = superuser_client.get(f"/campaigns/{campaign.pk}/exports", {"exportType": "ent\x01ries"})
    assert response.status_code == 400 and _error(response)["message"] == "Invalid 'exportType' value."


@pytest.mark.django_db
def test_a_nul_in_the_login_username_is_400_not_500():
    response = APIClient().post("/auth/token", {"username": "a\x00b", "password": "x"}, format="json")
    assert response.status_code == 400, response.content


# --- Finding 8: /heartbeat tells anonymous callers only ok or fail --------------------------


@pytest.mark.django_db
def test_heartbeat_keeps_exception_text_out_of_the_answer_and_logs_it(monkeypatch, caplog):
    def storage_down(alias: str) -> None:
        raise OSError(f"[Errno 13] Permission denied: '/srv/exportsite/var/files/{alias}/.probe'")

    monkeypatch.setattr(storage, "storage_ping", storage_down)
    response = APIClient().get("/heartbeat")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail" and body["failed"] == ["storage"]
    assert {name: set(check) for name, check in body["checks"].items()} == {
        name: {"status", "ms"} for name in ("database", "broker", "storage")
    }
    assert "/srv/exportsite" not in response.content.decode() and "Errno" not in response.content.decode()
    assert b"backend" not in response.content
    logged = [r for r in caplog.records if r.getMessage() == "health check failed"]
    assert [(r.check, r.levelname) for r in logged] == [("storage", "WARNING")]
    assert "/srv/exportsite/var/files/exports/.probe" in logged[0].error
    assert health.health_report()["checks"]["storage"]["error"].startswith("OSError")  # full report for operators


# --- Finding 10: download links are neither cached nor logged --------------------------------


class _SignedAMinuteAgo(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - 60)


def _download_token(alias: str, key: str, ttl: int = 300, *, signer=signing.TimestampSigner) -> str:
    """A link as exports.storage.download_url signs it (local folders), for any alias and key."""
    signer_ = signer(key=export_settings().download_signing_key, salt=storage.DOWNLOAD_SALT)
    return signer_.sign_object({"a": alias, "k": key, "f": "file.csv", "t": ttl}, compress=True)


@pytest.mark.django_db
def test_downloads_are_private_and_not_stored_by_caches():
    key = "entries/1/test/file.csv"
    storages["exports"].save(key, ContentFile(b"id\n1\n"))
    ok = APIClient().get(f"/downloads/{_download_token('exports', key)}")
    assert ok.status_code == 200 and ok.getvalue() == b"id\n1\n"
    assert ok["Cache-Control"] == "private, no-store"
    gone = APIClient().get(f"/downloads/{_download_token('exports', 'entries/1/test/missing.csv')}")
    invalid = APIClient().get("/downloads/not-a-token")
    assert gone.status_code == invalid.status_code == 404
    assert gone["Cache-Control"] == invalid["Cache-Control"] == "private, no-store"


@pytest.mark.django_db
def test_an_expired_download_link_is_410_and_not_cached():
    token = _download_token("exports", "entries/1/x.csv", ttl=10, signer=_SignedAMinuteAgo)
    response = APIClient().get(f"/downloads/{token}")
    assert response.status_code == 410 and response["Cache-Control"] == "private, no-store"


@pytest.fixture
def app_log():
    """The console handler as settings.LOGGING builds it: JSON lines, the correlation filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    handler.addFilter(CorrelationIdFilter())
    # django.request and django.server do not propagate (settings.LOGGING gives them the console
    # handler directly), so the stand-in handler goes on them too.
    loggers = [logging.getLogger(), logging.getLogger("django.request"), logging.getLogger("django.server")]
    previous = loggers[0].level
    for log in loggers:
        log.addHandler(handler)
    loggers[0].setLevel(logging.INFO)
    yield stream
    for log in loggers:
        log.removeHandler(handler)
    loggers[0].setLevel(previous)


@pytest.mark.django_db
def test_download_tokens_are_redacted_in_the_application_log(app_log):
    token = _download_token("exports", "entries/1/missing.csv")
    assert APIClient().get(f"/downloads/{token}").status_code == 404  # django.request logs "Not Found: <path>"
    text = app_log.getvalue()
    assert '"logger": "django.request"' in text and "/downloads/<redacted>" in text
    assert token not in text and token[:20] not in text


def test_text_log_lines_and_runserver_lines_are_redacted_by_the_filter():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(CorrelationIdFilter())
    log = logging.getLogger("django.server.test-redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning('"%s" %s %s', "GET /downloads/eyJhIjoiZXhw:1tX:abc?x=1 HTTP/1.1", "404", "80")
    finally:
        log.removeHandler(handler)
    assert stream.getvalue().strip() == '"GET /downloads/<redacted>?x=1 HTTP/1.1" 404 80'


def _gunicorn_logger() -> tuple[JsonAccessLogger, io.StringIO, io.StringIO]:
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("errorlog", "-")
    logger = JsonAccessLogger(cfg)
    access, errors = io.StringIO(), io.StringIO()
    for log, stream in ((logger.access_log, access), (logger.error_log, errors)):
        for handler in log.handlers:
            handler.setStream(stream)
    return logger, access, errors


def test_gunicorn_access_lines_redact_download_tokens():
    logger, access, errors = _gunicorn_logger()
    token = _download_token("exports", "entries/1/file.csv")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/downloads/{token}",
        "PATH_INFO": f"/downloads/{token}",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.7",
        "HTTP_USER_AGENT": "curl/8",
    }
    response = SimpleNamespace(status="200 OK", headers=[("X-Request-ID", "r-1")], sent=5, response_length=5)
    request = SimpleNamespace(headers=[("USER-AGENT", "curl/8")])
    logger.access(response, request, environ, timedelta(milliseconds=12))
    line = json.loads(access.getvalue())
    assert line["path"] == "/downloads/<redacted>" and line["status"] == 200 and line["correlation_id"] == "r-1"
    assert token not in access.getvalue()
    logger.exception("Error handling request %s", f"/downloads/{token}")  # gunicorn's own wording
    assert "Error handling request /downloads/<redacted>" in errors.getvalue() and token not in errors.getvalue()


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_real_gunicorn_in_production_mode_redacts_download_tokens(tmp_path):
    if not is_postgres():
        pytest.skip("starts a gunicorn process: PostgreSQL pass only")
    port = free_port()
    env = gunicorn_env(
        tmp_path,
        port,
        **PRODUCTION_REQUIRED,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="INFO",
        LOG_FORMAT="json",
        EXPORTS_INPROCESS_WORKER="0",
    )
    server = subprocess.Popen(
        gunicorn_argv(),
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    token = "eyJhIjoiZXhwb3J0cyJ9:1tXyZq:SECRETSIGNATURE"
    try:
        deadline, status = time.monotonic() + 30, None
        while time.monotonic() < deadline and status is None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/downloads/{token}", timeout=2)
            except urllib.error.HTTPError as error:
                status, cache_control = error.code, error.headers["Cache-Control"]
            except OSError:
                time.sleep(0.2)
        assert status == 404 and cache_control == "private, no-store"
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert [line["path"] for line in access] == ["/downloads/<redacted>"], output
    assert any(line["logger"] == "django.request" and "/downloads/<redacted>" in line["event"] for line in lines)
    assert "SECRETSIGNATURE" not in output, output


# --- Finding 12: /metrics token, allow-list and cached gauges --------------------------------

METRICS_TOKEN = "m" * 40


@pytest.mark.django_db
def test_metrics_with_a_token_refuses_a_missing_or_wrong_one(settings):
    settings.EXPORTS_METRICS_TOKEN = METRICS_TOKEN
    for authorization in ("", "Bearer wrong", f"Basic {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x"):
        response = APIClient().get("/metrics", HTTP_AUTHORIZATION=authorization)
        assert response.status_code == 401, authorization
        assert _error(response)["message"] == "Authentication required."
        assert response["WWW-Authenticate"].startswith("Bearer")
    ok = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert ok.status_code == 200 and b"exportsite_export_jobs_collect_ok" in ok.content


@pytest.mark.django_db
def test_metrics_with_an_allow_list_refuses_other_addresses(settings):
    settings.EXPORTS_METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    refused = APIClient().get("/metrics", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert refused.status_code == 403 and _error(refused)["message"] == "Forbidden."
    assert APIClient().get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert APIClient().get("/metrics", REMOTE_ADDR="::ffff:10.1.2.3").status_code == 200
    settings.EXPORTS_METRICS_TOKEN = METRICS_TOKEN  # both: the address and the token
    bearer = f"Bearer {METRICS_TOKEN}"
    assert APIClient().get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 401
    assert APIClient().get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION=bearer).status_code == 200
    assert APIClient().get("/metrics", REMOTE_ADDR="192.0.2.1", HTTP_AUTHORIZATION=bearer).status_code == 403


@pytest.mark.django_db
def test_metrics_stay_open_with_neither_configured():
    response = APIClient().get("/metrics")
    assert response.status_code == 200 and b"django_http_requests" in response.content


def _export_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "exports_export" in q["sql"]]


@pytest.mark.django_db
def test_the_job_gauges_are_read_once_per_cache_period(settings):
    settings.EXPORTS_METRICS_CACHE_SECONDS = 5
    metrics.clear_job_stats_cache()
    try:
        with CaptureQueriesContext(connection) as scrapes:
            assert APIClient().get("/metrics").status_code == 200
            assert APIClient().get("/metrics").status_code == 200
        assert len(_export_queries(scrapes.captured_queries)) == 1
        settings.EXPORTS_METRICS_CACHE_SECONDS = 0  # off: every scrape reads
        with CaptureQueriesContext(connection) as scrapes:
            APIClient().get("/metrics")
            APIClient().get("/metrics")
        assert len(_export_queries(scrapes.captured_queries)) == 2
    finally:
        metrics.clear_job_stats_cache()
