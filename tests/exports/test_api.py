"""HTTP contract: auth, permissions, orig error shapes, dedupe status codes, listing."""

import pytest
from rest_framework.test import APIClient

from exports.models import Export
from tests.conftest import jwt_client
from tests.factories import CampaignFactory, MarketFactory, UserFactory

pytestmark = pytest.mark.django_db


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"status", "message", "payload"}
    assert body["error"]["status"] == response.status_code
    return body["error"]


def test_token_endpoint_rejects_bad_credentials(reporter):
    response = APIClient().post("/auth/token", {"username": reporter.username, "password": "wrong"}, format="json")
    assert response.status_code == 401
    assert _error(response)["message"] == "Authentication required."


def test_token_refresh_gives_a_working_access_token(reporter, campaign):
    client = APIClient()
    tokens = client.post("/auth/token", {"username": reporter.username, "password": "pw-123456"}, format="json").json()
    refreshed = client.post("/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    assert client.get(f"/campaigns/{campaign.pk}/exports").status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer not-a-jwt", "Basic dXNlcjpwYXNz"])
def test_export_endpoints_need_a_valid_token(campaign, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    for response in (
        client.get(f"/campaigns/{campaign.pk}/exports"),
        client.post(f"/campaigns/{campaign.pk}/exports", {"exportType": "entries"}, format="json"),
    ):
        assert response.status_code == 401
        _error(response)
    assert not Export.objects.exists()


def test_user_without_report_permission_gets_403_in_orig_words(campaign, access_group):
    client = jwt_client(UserFactory(groups=[access_group]))
    response = client.post(f"/campaigns/{campaign.pk}/exports", {"exportType": "entries"}, format="json")
    assert response.status_code == 403
    assert _error(response) == {
        "status": 403,
        "message": "Invalid user permissions.",
        "payload": "Missing REPORT permissions.",
    }


def test_post_creates_then_returns_the_same_active_export(reporter_client, campaign, reporter):
    first = reporter_client.post(f"/campaigns/{campaign.pk}/exports", {"exportType": "entries"}, format="json")
    second = reporter_client.post(f"/campaigns/{campaign.pk}/exports", {"exportType": "entries"}, format="json")
    assert first.status_code == 201 and second.status_code == 200
    body = first.json()
    assert second.json()["id"] == body["id"]
    assert body["exportType"] == "entries" and body["status"] == "PENDING"
    assert body["campaignId"] == str(campaign.pk) and body["campaignName"] == campaign.name
    assert body["requesterUserId"] == str(reporter.pk)
    assert body["date"]["created"].endswith("Z")
    assert body["includeAllMarkets"] is False
    assert "path" not in body
    assert first["X-Request-ID"]
    from exports.models import ExportEvent

    audited = list(ExportEvent.objects.order_by("at").values_list("action", "actor_id", "detail"))
    assert audited == [
        ("requested", reporter.pk, {"via": "api", "created": True}),
        ("requested", reporter.pk, {"via": "api", "created": False}),
    ]


def test_different_parameters_are_different_jobs(reporter_client, campaign):
    url = f"/campaigns/{campaign.pk}/exports"
    plain = reporter_client.post(url, {"exportType": "entries"}, format="json")
    all_markets = reporter_client.post(url, {"exportType": "entries", "includeAllMarkets": True}, format="json")
    explicit_default = reporter_client.post(url, {"exportType": "entries", "includeAllMarkets": False}, format="json")
    assert all_markets.status_code == 201 and all_markets.json()["id"] != plain.json()["id"]
    assert explicit_default.status_code == 200 and explicit_default.json()["id"] == plain.json()["id"]


def test_request_id_header_is_stored_and_echoed(reporter_client, campaign):
    response = reporter_client.post(
        f"/campaigns/{campaign.pk}/exports", {"exportType": "entries"}, format="json", HTTP_X_REQUEST_ID="abc-123"
    )
    assert response["X-Request-ID"] == "abc-123"
    assert response.json()["correlationId"] == "abc-123"
    assert Export.objects.get().correlation_id == "abc-123"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"exportType": "nope"}, "Invalid export type: 'nope'."),
        ({}, "Invalid export type: 'None'."),
        ({"exportType": 7}, "Invalid export type: '7'."),
        (
            {"exportType": "entries", "includeAllMarkets": "yes"},
            "Invalid 'includeAllMarkets' value: expected a boolean, got str.",
        ),
    ],
)
def test_bad_bodies_get_400_with_a_message_naming_the_problem(reporter_client, campaign, body, message):
    response = reporter_client.post(f"/campaigns/{campaign.pk}/exports", body, format="json")
    assert response.status_code == 400
    assert _error(response)["message"] == message
    assert not Export.objects.exists()


def test_malformed_json_and_non_object_bodies_are_400(reporter_client, campaign):
    url = f"/campaigns/{campaign.pk}/exports"
    broken = reporter_client.post(url, "{not json", content_type="application/json")
    listed = reporter_client.post(url, ["entries"], format="json")
    assert broken.status_code == 400 and _error(broken)["message"] == "Malformed request body."
    assert listed.status_code == 400 and _error(listed)["message"] == "Malformed request body."


def test_unknown_or_invisible_campaign_is_campaign_not_found(reporter_client):
    hidden = CampaignFactory.create()
    MarketFactory(campaign=hidden)
    for campaign_id in ("999999", str(hidden.pk), "abc"):
        response = reporter_client.post(f"/campaigns/{campaign_id}/exports", {"exportType": "entries"}, format="json")
        assert response.status_code == 400
        assert _error(response) == {
            "status": 400,
            "message": "Campaign not found.",
            "payload": f"Campaign {campaign_id} not found.",
        }
    assert not Export.objects.exists()


def test_other_campaigns_exports_are_404_and_never_listed(reporter_client, outsider, campaign):
    created = reporter_client.post(f"/campaigns/{campaign.pk}/exports", {"exportType": "entries"}, format="json")
    export_id = created.json()["id"]
    other = jwt_client(outsider)
    detail = other.get(f"/campaigns/{campaign.pk}/exports/{export_id}")
    assert detail.status_code == 404
    assert _error(detail) == {
        "status": 404,
        "message": "Export not found.",
        "payload": f"Export {export_id} not found.",
    }
    assert other.get(f"/campaigns/{campaign.pk}/exports").status_code == 404
    assert reporter_client.get(f"/campaigns/{campaign.pk}/exports/{export_id}").status_code == 200


def test_export_detail_404_for_garbage_ids(reporter_client, campaign):
    for export_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = reporter_client.get(f"/campaigns/{campaign.pk}/exports/{export_id}")
        assert response.status_code == 404
        assert _error(response)["message"] == "Export not found."


def test_superuser_sees_every_campaign(campaign):
    admin = jwt_client(UserFactory(is_superuser=True))
    response = admin.post(f"/campaigns/{campaign.pk}/exports", {"exportType": "entries"}, format="json")
    assert response.status_code == 201


def test_list_is_newest_first_with_type_filter_and_paging(reporter_client, campaign, reporter):
    from exports.services import parameters_digest

    for index in range(5):
        Export.objects.create(
            campaign=campaign,
            export_type="entries",
            status="FINISHED" if index % 2 else "FAILED",
            parameters={},
            parameters_digest=parameters_digest({"n": index}),
            requester=reporter,
        )
    Export.objects.create(campaign=campaign, export_type="codes", status="FAILED", parameters={}, parameters_digest="x")
    url = f"/campaigns/{campaign.pk}/exports"
    everything = reporter_client.get(url).json()
    assert len(everything) == 6
    created = [item["date"]["created"] for item in everything]
    assert created == sorted(created, reverse=True)
    assert [item["exportType"] for item in reporter_client.get(url, {"exportType": "codes"}).json()] == ["codes"]
    page = reporter_client.get(url, {"limit": 2, "offset": 1}).json()
    assert [item["id"] for item in page] == [item["id"] for item in everything[1:3]]
    bad = reporter_client.get(url, {"limit": "many"})
    assert bad.status_code == 400 and _error(bad)["message"] == "Invalid 'limit' value."


def test_export_types_lists_entries_with_parameters(reporter_client):
    types = {item["key"]: item for item in reporter_client.get("/export-types").json()}
    assert types["entries"]["format"] == "tsv"
    assert types["entries"]["parameters"][0]["name"] == "includeAllMarkets"
    assert types["entries"]["columns"][:3] == ["id", "contest_title", "entry_date"]
    assert types["entries"]["columns"][-1].startswith("#{type}.{id}")


def test_unknown_route_is_json_404():
    response = APIClient().get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404


def test_heartbeat_and_metrics_need_no_auth():
    heartbeat = APIClient().get("/heartbeat")
    assert heartbeat.status_code == 200, heartbeat.json()
    assert set(heartbeat.json()["checks"]) == {"database", "broker", "storage"}
    metrics = APIClient().get("/metrics")
    assert metrics.status_code == 200
    assert b"django_http_requests" in metrics.content


def test_plain_views_answer_other_methods_with_json_405():
    for path in ("/heartbeat", "/downloads/anything"):
        response = APIClient().post(path)
        assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
        assert response.json()["error"]["message"] == "Method not allowed."
