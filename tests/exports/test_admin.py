"""The staff admin: who sees which exports and campaigns, and who may retry, cancel, expire,
download and request them — through the real admin URLs with Django's test client."""

import re
import uuid
from datetime import timedelta
from typing import cast
from urllib.parse import urlparse

import pytest
import requests
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.http import StreamingHttpResponse
from django.test import Client
from django.utils import timezone

from exports import storage
from exports.models import Export, ExportEvent
from tests.conftest import stored_keys, uses_s3
from tests.factories import CampaignFactory, GroupFactory, MarketFactory, UserFactory

pytestmark = pytest.mark.django_db

ADMIN = "/admin/exports/export/"
FILE_BYTES = b"id\tcontest_title\n1\tSummer Tour\n"


# --- people and jobs -------------------------------------------------------------------------


@pytest.fixture
def operator(access_group):
    """Retry, cancel and expire besides the reporter's permissions, on `campaign`."""
    return UserFactory(groups=["Export Operator", access_group])


@pytest.fixture
def viewer(access_group):
    """Sees `campaign`'s exports but may not download or request them (a Privacy Officer)."""
    return UserFactory(groups=["Privacy Officer", access_group])


@pytest.fixture
def other_operator():
    """An operator of another campaign only."""
    group = GroupFactory(name=f"elsewhere-{uuid.uuid4().hex[:6]}")
    MarketFactory(campaign=CampaignFactory(name="Elsewhere Tour", access_groups=[group]))
    return UserFactory(groups=["Export Operator", group])


def make_export(campaign, status: str, *, with_file: bool = False, **fields) -> Export:
    now = timezone.now()
    export = Export.objects.create(
        campaign=campaign,
        export_type="entries",
        parameters={"includeAllMarkets": False},
        parameters_digest=uuid.uuid4().hex,  # several active jobs may coexist in a test
        status=status,
        triggered_at=None if status == "PENDING" else now - timedelta(seconds=75),
        **fields,
    )
    if with_file:
        key = f"entries/{campaign.pk}/{export.pk}/summer_{campaign.pk}_entries.tsv"
        upload = storage.multipart_upload("exports", key=key, content_type="text/tab-separated-values", acl="private")
        upload.start()
        upload.complete([upload.write_part(1, FILE_BYTES)])
        Export.objects.filter(pk=export.pk).update(
            storage_alias="exports",
            storage_key=key,
            storage_keys=[key],
            row_count=1,
            rows_written=1,
            bytes_written=len(FILE_BYTES),
            finished_at=now,
        )
        export.refresh_from_db()
    return export


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response, *, html: bool = False) -> list[str]:
    """The messages this request added (earlier unread ones come first), as plain text or HTML."""
    texts = [str(message) for message in get_messages(response.wsgi_request)]
    return texts if html else [re.sub(r"<[^>]+>", "", text) for text in texts]


def action_choices(client) -> set[str]:
    form = client.get(ADMIN).context["action_form"]  # None when the user has no action at all
    return set(dict(form.fields["action"].choices)) if form else set()


def fetch(url: str) -> bytes:
    """A download link's content: presigned on moto, or the signed /downloads/ route."""
    if uses_s3():
        response = requests.get(url, timeout=30)
        assert response.status_code == 200
        return response.content
    local = Client().get(urlparse(url).path)
    assert local.status_code == 200
    # django-stubs types test client responses as HttpResponse; a download is a FileResponse.
    return cast(StreamingHttpResponse, local).getvalue()


# --- the action matrix -----------------------------------------------------------------------

# action → (status the export starts in, whether it has a file, allowed user, user missing the permission)
ACTION_CASES = {
    "retry": ("FAILED", False, "operator", "reporter"),
    "cancel": ("PENDING", False, "operator", "reporter"),
    "expire": ("FINISHED", True, "operator", "reporter"),
    "download": ("FINISHED", True, "reporter", "viewer"),
}


def _act(client, action: str, export: Export):
    url = f"{ADMIN}{export.pk}/{action}/"
    return client.get(url) if action == "download" else client.post(url)


def _assert_done(action: str, export: Export, response, actor, *, bulk: bool = False) -> None:
    fresh = Export.objects.get(pk=export.pk)
    if action == "retry":
        new = Export.objects.exclude(pk=export.pk).get()
        assert new.status == "PENDING" and new.parameters == export.parameters and new.requester == actor
        assert response["Location"] == (ADMIN if bulk else f"{ADMIN}{new.pk}/change/")
        assert any("retried as new job" in text for text in messages_of(response))
    elif action == "cancel":
        assert fresh.status == "CANCELLED"
        assert any("cancelled" in text for text in messages_of(response))
    elif action == "expire":
        assert fresh.status == "EXPIRED" and fresh.expired_reason == "staff"
        assert stored_keys() == []
        assert any("expired" in text for text in messages_of(response))
    else:
        assert fetch(response["Location"]) == FILE_BYTES
    event = ExportEvent.objects.get(export=export)
    expected = {"retry": "retried", "cancel": "cancelled", "expire": "expired", "download": "downloaded"}[action]
    assert (event.action, event.actor, event.campaign_id) == (expected, actor, export.campaign_id)


def _assert_untouched(export: Export) -> None:
    assert Export.objects.get(pk=export.pk).status == export.status
    assert Export.objects.count() == 1
    assert not ExportEvent.objects.exists()


@pytest.mark.parametrize("action", list(ACTION_CASES))
def test_action_by_a_permitted_user_calls_the_service(request, campaign, action):
    status, with_file, allowed, _ = ACTION_CASES[action]
    export = make_export(campaign, status, with_file=with_file)
    user = request.getfixturevalue(allowed)
    response = _act(client_for(user), action, export)
    assert response.status_code == 302
    _assert_done(action, export, response, user)


@pytest.mark.parametrize("action", list(ACTION_CASES))
def test_action_without_the_permission_is_refused_and_not_offered(request, campaign, action):
    status, with_file, _, missing = ACTION_CASES[action]
    export = make_export(campaign, status, with_file=with_file)
    client = client_for(request.getfixturevalue(missing))

    page = client.get(f"{ADMIN}{export.pk}/change/")
    assert page.status_code == 200
    assert f"/{export.pk}/{action}/" not in page.content.decode()
    assert f"{action}_selected" not in action_choices(client)

    response = _act(client, action, export)
    assert response.status_code == 302 and response["Location"] == f"{ADMIN}{export.pk}/change/"
    assert messages_of(response) == [f"You do not have permission to {action} exports."]
    _assert_untouched(export)


@pytest.mark.parametrize("action", list(ACTION_CASES))
def test_action_on_another_campaigns_export_finds_nothing(campaign, other_operator, outsider, action):
    status, with_file, _, _ = ACTION_CASES[action]
    export = make_export(campaign, status, with_file=with_file)
    client = client_for(outsider if action == "download" else other_operator)
    response = _act(client, action, export)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert "doesn’t exist" in messages_of(response)[0]
    _assert_untouched(export)
    assert client.get(f"{ADMIN}{export.pk}/change/").status_code == 302


@pytest.mark.parametrize("action", ["retry", "cancel", "expire"])
def test_state_changing_actions_need_post(campaign, operator, action):
    status, with_file, _, _ = ACTION_CASES[action]
    export = make_export(campaign, status, with_file=with_file)
    assert client_for(operator).get(f"{ADMIN}{export.pk}/{action}/").status_code == 405
    _assert_untouched(export)


@pytest.mark.parametrize("action", list(ACTION_CASES))
def test_bulk_action_matrix(request, campaign, other_operator, outsider, action):
    status, with_file, allowed, missing = ACTION_CASES[action]
    export = make_export(campaign, status, with_file=with_file)
    form = {"action": f"{action}_selected", "_selected_action": [str(export.pk)]}

    other = outsider if action == "download" else other_operator
    response = client_for(other).post(ADMIN, form)
    assert messages_of(response) == ["None of the selected exports exist or are visible to you."]
    response = client_for(request.getfixturevalue(missing)).post(ADMIN, form)
    # the action is not in the menu ("No action selected."), or there is no menu at all
    assert messages_of(response) in (["No action selected."], [])
    _assert_untouched(export)

    user = request.getfixturevalue(allowed)
    response = client_for(user).post(ADMIN, form)
    if action == "download":  # one file: straight to it
        assert response.status_code == 302 and fetch(response["Location"]) == FILE_BYTES
    else:
        assert response.status_code == 302 and response["Location"] == ADMIN
        _assert_done(action, export, response, user, bulk=True)


REFUSALS = {
    "retry": "Only failed, expired or cancelled exports can be retried.",
    "expire": "Only finished exports can be expired.",
    "download": "Only finished exports can be downloaded.",
}


def test_refusals_by_the_service_are_admin_messages(campaign, operator):
    running = make_export(campaign, "TRIGGERED")
    short = str(running.pk)[:8]
    for action, refusal in REFUSALS.items():
        response = _act(client_for(operator), action, running)
        assert response.status_code == 302
        assert messages_of(response) == [f"Could not {action} export {short}: {refusal}"]

    finished = make_export(campaign, "FINISHED", with_file=True)
    form = {"action": "cancel_selected", "_selected_action": [str(running.pk), str(finished.pk)]}
    texts = messages_of(client_for(operator).post(ADMIN, form))
    assert sorted(texts) == sorted(
        [
            f"Export {short} cancelled.",
            f"Could not cancel export {str(finished.pk)[:8]}: Only pending or running exports can be cancelled.",
        ]
    )
    assert Export.objects.get(pk=finished.pk).status == "FINISHED"
    assert Export.objects.get(pk=running.pk).status == "CANCELLED"


def test_retry_honours_dedupe(campaign, operator):
    failed = make_export(campaign, "FAILED", error_message="boom")
    first = client_for(operator).post(f"{ADMIN}{failed.pk}/retry/")
    again = client_for(operator).post(f"{ADMIN}{failed.pk}/retry/")
    active = Export.objects.get(status="PENDING")
    assert first["Location"] == again["Location"] == f"{ADMIN}{active.pk}/change/"
    assert "already running" in messages_of(again)[0]
    assert Export.objects.count() == 2


def test_download_of_a_multi_file_export_lists_each_file(campaign, reporter):
    export = make_export(campaign, "FINISHED", with_file=True)
    second = f"entries/{campaign.pk}/{export.pk}/part_2.tsv"
    upload = storage.multipart_upload("exports", key=second, content_type="text/plain", acl="private")
    upload.start()
    upload.complete([upload.write_part(1, b"second\n")])
    Export.objects.filter(pk=export.pk).update(storage_keys=[export.storage_key, second])

    response = client_for(reporter).get(f"{ADMIN}{export.pk}/download/")
    assert response.status_code == 200
    links = response.context["files"][0][1]
    assert [name for name, _ in links] == [export.storage_key.rsplit("/", 1)[-1], "part_2.tsv"]
    assert [fetch(url) for _, url in links] == [FILE_BYTES, b"second\n"]
    assert "part_2.tsv" in response.content.decode()


# --- what each user sees ---------------------------------------------------------------------


def test_list_and_detail_are_scoped_to_visible_campaigns(campaign, reporter, outsider):
    mine = make_export(campaign, "FINISHED", with_file=True)
    other_campaign = outsider.groups.exclude(name="Campaign Reporter").get().campaigns.get()
    theirs = make_export(other_campaign, "FAILED", error_message="No markets.")

    page = client_for(reporter).get(ADMIN)
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [mine]
    html = page.content.decode()
    assert 'data-status="FINISHED"' in html and "Download" in html and "100%" in html
    assert "Other campaign" not in html  # not even in the campaign filter

    detail = client_for(reporter).get(f"{ADMIN}{mine.pk}/change/")
    assert detail.status_code == 200
    html = detail.content.decode()
    assert mine.storage_key in html and "includeAllMarkets" in html and "Audit trail" in html
    assert f"{ADMIN}{mine.pk}/download/" in html and f"{ADMIN}{mine.pk}/expire/" not in html

    assert list(client_for(outsider).get(ADMIN).context["cl"].result_list) == [theirs]
    assert client_for(outsider).get(f"{ADMIN}{mine.pk}/change/").status_code == 302


def test_staff_without_view_permission_get_no_export_pages(campaign, access_group):
    export = make_export(campaign, "PENDING")
    client = client_for(UserFactory(groups=[access_group]))
    assert client.get(ADMIN).status_code == 403
    assert client.get(f"{ADMIN}{export.pk}/change/").status_code == 403
    assert client.post(f"{ADMIN}{export.pk}/cancel/").status_code == 403
    assert client.get("/admin/exports/exportevent/").status_code == 403


def test_nobody_adds_changes_or_deletes_exports_in_the_admin(campaign, operator):
    export = make_export(campaign, "FAILED")
    superuser = UserFactory(username="root", is_superuser=True)
    for user in (operator, superuser):
        client = client_for(user)
        assert client.get(f"{ADMIN}add/").status_code == 403
        assert client.get(f"{ADMIN}{export.pk}/delete/").status_code == 403
        assert client.post(f"{ADMIN}{export.pk}/change/", {"status": "FINISHED"}).status_code == 403
        assert "delete_selected" not in action_choices(client)
    assert Export.objects.get(pk=export.pk).status == "FAILED"


def test_superuser_sees_every_campaigns_exports(campaign, outsider):
    other_campaign = outsider.groups.exclude(name="Campaign Reporter").get().campaigns.get()
    exports = {make_export(campaign, "PENDING"), make_export(other_campaign, "PENDING")}
    superuser = UserFactory(username="root", is_superuser=True)
    assert set(client_for(superuser).get(ADMIN).context["cl"].result_list) == exports


def test_search_by_campaign_name_and_export_id_and_filter_by_status(campaign, reporter):
    finished = make_export(campaign, "FINISHED", with_file=True)
    failed = make_export(campaign, "FAILED")
    client = client_for(reporter)

    def found(query: str) -> set:
        return set(client.get(ADMIN + query).context["cl"].result_list)

    assert found("?q=summer") == {finished, failed}
    assert found(f"?q={str(failed.pk)[:8]}") == {failed}
    assert found(f"?q={failed.pk}") == {failed}
    assert found("?q=nothing-like-this") == set()
    assert found("?status__exact=FINISHED") == {finished}
    assert found(f"?export_type=entries&campaign__id__exact={campaign.pk}") == {finished, failed}


# --- the status endpoint ---------------------------------------------------------------------


def test_status_endpoint_matrix(campaign, reporter, outsider, access_group):
    running = make_export(campaign, "TRIGGERED", row_count=200, rows_written=50, bytes_written=2048)
    url = f"{ADMIN}status/?id={running.pk}&id=not-a-uuid"

    body = client_for(reporter).get(url).json()
    [row] = body["exports"]
    assert row["id"] == str(running.pk) and row["status"] == "TRIGGERED" and row["active"] is True
    assert 'data-status="TRIGGERED"' in row["cells"]["status_badge"]
    assert "25%" in row["cells"]["progress"] and row["cells"]["rows"] == "50 of ~200"
    assert row["cells"]["size"] == "2.0\xa0KB" and row["cells"]["download_link"] == "—"

    assert client_for(outsider).get(url).json() == {"exports": []}
    denied = client_for(UserFactory(groups=[access_group])).get(url)
    assert denied.status_code == 403 and "permission" in denied.json()["error"]
    assert Client().get(url).status_code == 302  # to the admin login


# --- requesting from the admin ---------------------------------------------------------------

REQUEST = f"{ADMIN}request/"


def test_campaign_page_links_to_the_request_form(campaign, reporter, viewer):
    html = client_for(reporter).get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert f"{REQUEST}?campaign={campaign.pk}" in html
    assert f"{ADMIN}?campaign__id__exact={campaign.pk}" in html
    page = client_for(reporter).get(f"{REQUEST}?campaign={campaign.pk}&type=entries")
    assert page.status_code == 200
    assert page.context["form"].initial == {"campaign": campaign.pk, "export_type": "entries"}
    html = page.content.decode()
    assert 'name="entries__includeAllMarkets"' in html and 'type="checkbox"' in html
    assert 'name="codeWaves__dateKey"' in html and 'class="required"' in html
    assert 'name="reminderEmail__maxRowsPerFile"' in html and 'type="number"' in html

    viewer_page = client_for(viewer).get(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    assert REQUEST not in viewer_page.content.decode()


def test_request_creates_the_job_through_the_service_then_dedupes(campaign, reporter):
    form = {"campaign": campaign.pk, "export_type": "entries", "entries__includeAllMarkets": "on"}
    client = client_for(reporter)

    created = client.post(REQUEST, form)
    export = Export.objects.get()
    assert created.status_code == 302 and created["Location"] == f"{ADMIN}?campaign__id__exact={campaign.pk}"
    assert export.parameters == {"includeAllMarkets": True} and export.requester == reporter
    assert export.status == "PENDING" and "requested: job" in messages_of(created)[0]

    again = client.post(REQUEST, form)
    assert Export.objects.count() == 1
    text = messages_of(again, html=True)[-1]
    assert "already running" in text and f'href="{ADMIN}{export.pk}/change/"' in text

    events = list(ExportEvent.objects.order_by("at").values_list("action", "actor", "detail"))
    assert events == [
        ("requested", reporter.pk, {"via": "admin", "created": True}),
        ("requested", reporter.pk, {"via": "admin", "created": False}),
    ]


@pytest.mark.parametrize(
    "form, error",
    [
        ({"export_type": "reminderEmail", "reminderEmail__maxRowsPerFile": "0"}, "Invalid 'maxRowsPerFile' value"),
        ({"export_type": "codeWaves", "codeWaves__dateKey": "soon"}, "Date key value, 'soon,' was invalid."),
        ({"export_type": "codeWaves", "codeWaves__dateKey": ""}, "This field is required."),
        ({"export_type": "reminderEmail", "reminderEmail__maxRowsPerFile": "many"}, "Enter a whole number."),
        ({"export_type": "no-such-type"}, "Select a valid choice."),
    ],
)
def test_request_validation_errors_are_form_errors(campaign, reporter, form, error):
    response = client_for(reporter).post(REQUEST, {"campaign": campaign.pk, **form})
    assert response.status_code == 200
    assert error in response.content.decode().replace("&#x27;", "'")
    assert not Export.objects.exists()


def test_request_matrix_missing_permission_and_other_campaign(campaign, viewer, outsider):
    form = {"campaign": campaign.pk, "export_type": "entries"}
    refused = client_for(viewer).post(REQUEST, form)
    assert refused.status_code == 302 and messages_of(refused) == ["You do not have permission to request exports."]
    assert client_for(viewer).get(REQUEST).status_code == 302

    page = client_for(outsider).get(f"{REQUEST}?campaign={campaign.pk}")
    assert page.context["form"].initial["campaign"] != campaign.pk  # their own, the only one they see
    assert "Summer Tour, &quot;Live&quot;" not in page.content.decode()
    other = client_for(outsider).post(REQUEST, form)
    assert other.status_code == 200 and "Select a valid choice" in other.content.decode()
    assert not Export.objects.exists() and not ExportEvent.objects.exists()


# --- audit and roles -------------------------------------------------------------------------


def test_audit_trail_is_visible_read_only_and_scoped(campaign, operator, outsider):
    export = make_export(campaign, "PENDING")
    client_for(operator).post(f"{ADMIN}{export.pk}/cancel/")
    client = client_for(operator)

    events = client.get("/admin/exports/exportevent/")
    assert events.status_code == 200
    [event] = events.context["cl"].result_list
    assert (event.action, event.actor, event.export) == ("cancelled", operator, export)
    assert client.get(f"/admin/exports/exportevent/{event.pk}/change/").status_code == 200
    assert client.get("/admin/exports/exportevent/add/").status_code == 403
    assert client.post(f"/admin/exports/exportevent/{event.pk}/delete/").status_code == 403
    detail = client.get(f"{ADMIN}{export.pk}/change/").content.decode()
    assert "Audit trail" in detail and "cancelled" in detail and operator.username in detail

    assert list(client_for(outsider).get("/admin/exports/exportevent/").context["cl"].result_list) == []


def test_demo_reporter_can_use_the_admin():
    group = GroupFactory(name="Demo Campaign Staff")
    campaign = CampaignFactory.create(name="Demo Arena Tour", access_groups=[group])
    CampaignFactory(name="Someone Else's Tour")
    call_command("demo_user", stdout=open("/dev/null", "w"))
    client = Client()
    # Through the login form: django-axes needs the request to count the attempt.
    login = client.post("/admin/login/?next=/admin/", {"username": "demo", "password": "demo-password"})
    assert login.status_code == 302 and login["Location"] == "/admin/"

    index = client.get("/admin/").content.decode()
    assert "/admin/exports/export/" in index and "/admin/campaigns/campaign/" in index
    campaigns = client.get("/admin/campaigns/campaign/")
    assert campaigns.status_code == 200 and list(campaigns.context["cl"].result_list) == [campaign]
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    assert page.status_code == 200 and "Request export" in page.content.decode()
    assert client.get(ADMIN).status_code == 200
    assert client.get("/admin/exports/exportevent/").status_code == 200
