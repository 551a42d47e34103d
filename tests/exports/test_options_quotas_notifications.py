"""Request options, quotas, throttling and notifications."""

import csv
import gzip
import hashlib
import hmac
import io
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from exports import notify
from exports.engine import export_run
from exports.models import Export
from tests.conftest import jwt_client, open_uploads, read_export_bytes, stored_keys, wait_for_status
from tests.factories import EntryFactory, MarketFactory, UserFactory

pytestmark = pytest.mark.django_db


def _post(client, campaign, **body):
    return client.post(f"/campaigns/{campaign.pk}/exports", {"exportType": "entries", **body}, format="json")


def _run(response) -> tuple[Export, bytes]:
    assert response.status_code == 201, response.json()
    export_id = response.json()["id"]
    assert export_run(export_id=export_id) == "finished"
    export = Export.objects.get(pk=export_id)
    return export, read_export_bytes(export)


@pytest.fixture
def entries(campaign):
    market = campaign.markets.get()
    other = MarketFactory(campaign=campaign, city="Austin", state="TX")
    made = [
        EntryFactory.create(campaign=campaign, market=market, created_at=datetime(2026, 1, day, tzinfo=UTC))
        for day in range(1, 6)
    ]
    made.append(EntryFactory.create(campaign=campaign, market=other, created_at=datetime(2026, 1, 9, tzinfo=UTC)))
    made[0].additional_markets.add(other)
    return made


def test_columns_option_picks_and_orders_columns(reporter_client, campaign, entries):
    export, data = _run(_post(reporter_client, campaign, columns=["email", "id"], format="csv"))
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0] == ["email", "id"]
    assert sorted(int(row[1]) for row in rows[1:]) == sorted(entry.pk for entry in entries)
    assert export.storage_key.endswith(".csv") and export.parameters["columns"] == ["email", "id"]


def test_jsonl_excel_and_gzip_formats(reporter_client, campaign, entries):
    _, jsonl = _run(_post(reporter_client, campaign, format="jsonl", columns=["id", "locale"]))
    lines = [json.loads(line) for line in jsonl.decode().splitlines()]
    assert len(lines) == 6 and set(lines[0]) == {"id", "locale"}
    excel_export, excel = _run(_post(reporter_client, campaign, excel=True))
    assert excel.startswith(b"\xef\xbb\xbf") and b"\r\n" in excel and b"\n" not in excel.replace(b"\r\n", b"")
    assert excel_export.storage_key.endswith(".tsv")
    gz_export, compressed = _run(_post(reporter_client, campaign, compression="gzip", format="csv"))
    assert gz_export.storage_key.endswith(".csv.gz")
    plain = gzip.decompress(compressed).decode()
    assert plain.splitlines()[0].startswith("id,contest_title,entry_date")
    assert len(plain.splitlines()) == 7


def test_filters_by_market_and_creation_time(reporter_client, campaign, entries):
    market = campaign.markets.order_by("id").first()
    _, data = _run(_post(reporter_client, campaign, filters={"marketIds": [market.pk]}))
    assert data.count(b"\n") - 1 == 5
    window = {"createdFrom": "2026-01-02T00:00:00Z", "createdTo": "2026-01-04T00:00:00+00:00"}
    _, windowed = _run(_post(reporter_client, campaign, filters=window, format="csv"))
    ids = [int(row[0]) for row in list(csv.reader(io.StringIO(windowed.decode())))[1:]]
    assert ids == [entries[1].pk, entries[2].pk]


def test_relative_filters_are_frozen_at_request_time(reporter_client, campaign, entries):
    before = datetime.now(UTC).replace(microsecond=0)
    body = _post(reporter_client, campaign, filters={"createdFrom": "-7d", "createdTo": "now"}).json()
    frozen = body["filters"]
    start = datetime.fromisoformat(frozen["createdFrom"].replace("Z", "+00:00"))
    assert timedelta(days=7) - timedelta(seconds=5) <= before - start <= timedelta(days=7) + timedelta(seconds=5)
    assert frozen["createdTo"].endswith("Z")


def test_default_valued_options_dedupe_with_the_plain_request(reporter_client, campaign, entries):
    plain = _post(reporter_client, campaign)
    explicit = _post(reporter_client, campaign, format="tsv", excel=False)
    assert explicit.status_code == 200 and explicit.json()["id"] == plain.json()["id"]
    different = _post(reporter_client, campaign, format="csv")
    assert different.status_code == 201


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"columns": ["id", "nope"]}, "Unknown column(s): 'nope'."),
        ({"columns": "id"}, "Invalid 'columns' value: expected a non-empty list of column names."),
        ({"columns": ["id", "id"]}, "Invalid 'columns' value: a column is listed twice."),
        ({"format": "xlsx"}, "Invalid 'format' value: 'xlsx'."),
        ({"compression": "zip"}, "Invalid 'compression' value: 'zip'."),
        ({"excel": "yes"}, "Invalid 'excel' value: expected a boolean."),
        ({"format": "jsonl", "excel": True}, "The 'excel' option applies to csv and tsv only."),
        ({"filters": {"city": "x"}}, "Unsupported filter(s) for export type 'entries': 'city'."),
        ({"filters": {"marketIds": [999999]}}, "Unknown market id(s) for this campaign: 999999."),
        ({"filters": {"createdFrom": "yesterday"}}, "Invalid 'createdFrom' filter: 'yesterday'."),
        (
            {"filters": {"createdFrom": "now", "createdTo": "-1d"}},
            "Invalid filters: 'createdFrom' must be before 'createdTo'.",
        ),
        ({"includeAllMarket": True}, "Unknown parameter(s): 'includeAllMarket'."),
        ({"webhookUrl": "ftp://x"}, "Invalid 'webhookUrl' value: 'ftp://x'."),
    ],
)
def test_bad_options_are_400_naming_the_problem(reporter_client, campaign, body, message):
    response = _post(reporter_client, campaign, **body)
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["message"] == message
    assert not Export.objects.exists()


def test_export_types_state_limits_and_options(reporter_client):
    entries = {t["key"]: t for t in reporter_client.get("/export-types").json()}["entries"]
    assert entries["limits"]["maxRows"] > 0 and entries["limits"]["maxBytes"] > 0
    assert entries["filters"] == ["marketIds", "createdFrom", "createdTo"]


def test_row_cap_fails_clearly_instead_of_truncating(reporter_client, campaign, entries, monkeypatch):
    from exports.types.entries import EntriesExport

    monkeypatch.setattr(EntriesExport, "max_rows", 3)
    export = Export.objects.get(pk=_post(reporter_client, campaign).json()["id"])
    assert export_run(export_id=str(export.pk)) == "failed"
    export.refresh_from_db()
    assert export.status == "FAILED" and export.failure_kind == "data" and "limit of 3 rows" in export.error_message
    # an estimate that undercounts is still caught while streaming, and nothing is left behind
    monkeypatch.setattr(EntriesExport, "estimate", lambda self, ctx: 0)
    export = Export.objects.get(pk=_post(reporter_client, campaign, format="csv").json()["id"])
    assert export_run(export_id=str(export.pk)) == "failed"
    export.refresh_from_db()
    assert "more than 3 rows" in export.error_message and export.storage_key == ""
    assert stored_keys() == [] and open_uploads() == []


def test_per_user_active_export_quota_is_429_with_retry_after(settings, reporter_client, campaign, entries):
    settings.EXPORTS_MAX_ACTIVE_PER_USER = 2
    assert _post(reporter_client, campaign).status_code == 201
    assert _post(reporter_client, campaign, format="csv").status_code == 201
    assert _post(reporter_client, campaign).status_code == 200  # a duplicate is not a new job
    over = _post(reporter_client, campaign, format="jsonl")
    assert over.status_code == 429 and over["Retry-After"] == "30"
    assert over.json()["error"]["message"] == "Too many active exports."


def test_api_throttling_is_per_user(settings, campaign, reporter):
    settings.EXPORTS_API_RATE = "3/min"
    from django.core.cache import cache

    cache.clear()
    client = jwt_client(reporter)
    statuses = [client.get(f"/campaigns/{campaign.pk}/exports").status_code for _ in range(4)]
    assert statuses[:3] == [200, 200, 200] and statuses[3] == 429
    cache.clear()


def test_requester_gets_an_email_linking_to_the_export_page(campaign, entries, access_group):
    from exports.services.notifications import export_send_email

    user = UserFactory(email="fan-ops@example.com", groups=["Campaign Reporter", access_group])
    response = jwt_client(user).post(f"/campaigns/{campaign.pk}/exports", {"exportType": "entries"}, format="json")
    export_id = response.json()["id"]
    export_run(export_id=export_id)
    export_send_email(export_id=export_id)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["fan-ops@example.com"] and "ready" in message.body
    assert f"/admin/exports/export/{export_id}/change/" in message.body
    assert "X-Amz-Signature" not in message.body and "/downloads/" not in message.body


class _Receiver(BaseHTTPRequestHandler):
    calls: list = []
    fail_first = 1

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).calls.append((dict(self.headers), body))
        status = 500 if len(type(self).calls) <= type(self).fail_first else 204
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.django_db(transaction=True)
def test_webhook_is_signed_and_retried_until_delivered(settings, export_worker, campaign, reporter):
    EntryFactory(campaign=campaign, market=campaign.markets.get())
    _Receiver.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        response = _post(jwt_client(reporter), campaign, webhookUrl=url)
        export_id = response.json()["id"]
        wait_for_status(export_id, {"FINISHED"})
        deadline = datetime.now() + timedelta(seconds=20)
        while len(_Receiver.calls) < 2 and datetime.now() < deadline:
            threading.Event().wait(0.1)
    finally:
        server.shutdown()
    assert len(_Receiver.calls) == 2  # one 500, then delivered
    headers, body = _Receiver.calls[-1]
    signature = headers["X-Exportsite-Signature"]
    timestamp = int(signature.split(",")[0].removeprefix("t="))
    assert abs(time.time() - timestamp) < 60
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(settings.EXPORTS_WEBHOOK_SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert signature == f"t={timestamp},v1={expected}"
    assert settings.EXPORTS_WEBHOOK_SECRET != settings.SECRET_KEY  # its own secret
    assert notify.verify_signature(signature, body, settings.EXPORTS_WEBHOOK_SECRET)
    assert not notify.verify_signature(signature, body, settings.SECRET_KEY)
    payload = json.loads(body)
    assert payload["id"] == export_id and payload["status"] == "FINISHED" and "path" not in payload


# --- Webhook destinations (SSRF) -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "https://[::1]/hook",
        "http://LOCALHOST/x",
        "http://169.254.169.254/latest",
    ],
)
def test_a_webhook_to_a_private_address_is_refused_at_request(settings, reporter_client, campaign, url):
    settings.EXPORTS_WEBHOOK_ALLOW_PRIVATE = False
    response = _post(reporter_client, campaign, webhookUrl=url)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == f"Invalid 'webhookUrl' value: '{url}'."
    assert response.json()["error"]["payload"] == "The 'webhookUrl' must point to a public address."
    assert not Export.objects.exists()


def test_a_public_webhook_address_is_accepted(settings, reporter_client, campaign):
    settings.EXPORTS_WEBHOOK_ALLOW_PRIVATE = False
    response = _post(reporter_client, campaign, webhookUrl="https://hooks.example.com/exports")
    assert response.status_code == 201


class _Listener:
    """A local HTTP server that records what reaches it."""

    def __init__(self, handler):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()


def test_a_name_resolving_to_a_private_address_is_not_posted_to(settings, campaign, reporter):
    """A stored URL whose name resolves to a private address (`localhost` here, as any DNS name
    could): the worker resolves it right before sending, refuses, and does not retry."""
    from exports import notify
    from exports.services.notifications import export_send_webhook

    settings.EXPORTS_WEBHOOK_ALLOW_PRIVATE = False
    _Receiver.calls, _Receiver.fail_first = [], 0
    listener = _Listener(_Receiver)
    try:
        port = listener.server.server_address[1]
        export = Export.objects.create(
            campaign=campaign, export_type="entries", requester=reporter, webhook_url=f"http://localhost:{port}/hook"
        )
        export_send_webhook(export_id=str(export.pk))  # returns: refused, nothing to retry
        with pytest.raises(notify.WebhookRefused, match="non-public address"):
            notify.post_webhook(url=f"http://localhost:{port}/hook", payload={}, secret="s")
    finally:
        listener.close()
        _Receiver.fail_first = 1
    assert _Receiver.calls == []


class _Redirector(BaseHTTPRequestHandler):
    target = ""

    def do_POST(self):  # noqa: N802 - http.server API
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(307)
        self.send_header("Location", type(self).target)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_webhook_redirect_is_not_followed():
    from exports import notify

    _Receiver.calls, _Receiver.fail_first = [], 0
    target = _Listener(_Receiver)
    _Redirector.target = target.url + "/internal"
    redirector = _Listener(_Redirector)
    try:
        with pytest.raises(notify.WebhookRefused, match="redirect"):
            notify.post_webhook(url=redirector.url + "/hook", payload={"a": 1}, secret="s", allow_private=True)
    finally:
        redirector.close()
        target.close()
        _Receiver.fail_first = 1
    assert _Receiver.calls == []
