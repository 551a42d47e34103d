"""Request → broker → real worker → file in storage (S3 on moto, or local) → download."""

import csv
import io
from typing import cast
from urllib.parse import urlparse

import pytest
import requests
from django.http import StreamingHttpResponse
from rest_framework.test import APIClient

from campaigns.models import Entry
from tests.conftest import TERMINAL, jwt_client, uses_s3, wait_for_status
from tests.factories import EntryFactory, FanFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _download(path: str) -> tuple[int, bytes, str]:
    if uses_s3():
        response = requests.get(path, timeout=30)
        return response.status_code, response.content, response.headers.get("Content-Disposition", "")
    local = APIClient().get(urlparse(path).path)
    # django-stubs types test client responses as HttpResponse; a download is a FileResponse.
    content = cast(StreamingHttpResponse, local).getvalue() if local.status_code == 200 else local.content
    return local.status_code, content, local.get("Content-Disposition", "")


def _cache_control(path: str) -> str:
    if uses_s3():
        return requests.get(path, timeout=30).headers.get("Cache-Control", "")
    return APIClient().get(urlparse(path).path).get("Cache-Control", "")


def test_requested_export_is_run_by_the_worker_and_downloadable(export_worker, campaign, reporter):
    market = campaign.markets.get()
    EntryFactory.create_batch(40, campaign=campaign, market=market)
    EntryFactory(campaign=campaign, market=market, fan=FanFactory(first_name="=cmd|' /C calc'!A0"))
    client = jwt_client(reporter)

    created = client.post(f"/campaigns/{campaign.pk}/exports", {"exportType": "entries"}, format="json")
    assert created.status_code == 201
    export = wait_for_status(created.json()["id"], TERMINAL)
    assert export.status == "FINISHED", (export.error_message, export.error_payload)

    body = client.get(f"/campaigns/{campaign.pk}/exports/{export.pk}").json()
    assert body["status"] == "FINISHED" and body["count"] == 41 and body["path"]
    assert body["key"].endswith(".tsv")
    status, content, disposition = _download(body["path"])
    assert status == 200 and ".tsv" in disposition
    assert _cache_control(body["path"]) == "private, no-store"  # S3's and our own downloads alike

    rows = list(csv.reader(io.StringIO(content.decode("utf-8")), delimiter="\t"))
    assert len(rows) == 42
    ids = [int(row[0]) for row in rows[1:]]
    assert ids == list(Entry.objects.filter(campaign=campaign).order_by("id").values_list("id", flat=True))
    by_id = {row[0]: row for row in rows[1:]}
    for entry in Entry.objects.filter(campaign=campaign).select_related("fan"):
        row = by_id[str(entry.pk)]
        assert row[3] == entry.fan.tm_id and row[6] == (entry.email or entry.fan.email)
    assert any(row[7] == "'=cmd|' /C calc'!A0" for row in rows[1:])

    # the same request while nothing is active makes a new job
    again = client.post(f"/campaigns/{campaign.pk}/exports", {"exportType": "entries"}, format="json")
    assert again.status_code == 201


def test_download_link_is_signed(export_worker, campaign, reporter):
    EntryFactory(campaign=campaign, market=campaign.markets.get())
    client = jwt_client(reporter)
    export_id = client.post(f"/campaigns/{campaign.pk}/exports", {"exportType": "entries"}, format="json").json()["id"]
    wait_for_status(export_id, {"FINISHED"})
    path = client.get(f"/campaigns/{campaign.pk}/exports/{export_id}").json()["path"]
    if uses_s3():
        # moto does not verify signatures; check the presigned URL's terms instead.
        assert "X-Amz-Signature=" in path and "X-Amz-Expires=900" in path
        return
    token = urlparse(path).path.rsplit("/", 1)[1]
    tampered = path.replace(token, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    assert _download(tampered)[0] == 404
    assert _download(path)[0] == 200


def test_expired_local_download_link_is_refused(settings, campaign, reporter):
    if uses_s3():
        pytest.skip("presigned S3 URL expiry is enforced by S3, not by exportsite")
    from exports import storage

    settings.EXPORTS_DOWNLOAD_URL_TTL_SECONDS = 1
    url = storage.download_url("exports", "some/key.tsv", filename="key.tsv", ttl_seconds=-5)
    status, content, _ = _download(url)
    assert status == 410 and b"Download link expired." in content


def test_pending_jobs_are_enqueued_when_a_worker_starts(campaign, reporter):
    """A job whose message was lost (e.g. broker restart) is picked up by the next worker."""
    import dramatiq

    from tests.conftest import export_worker as _unused  # noqa: F401

    EntryFactory(campaign=campaign, market=campaign.markets.get())
    client = jwt_client(reporter)
    broker = dramatiq.get_broker()
    export_id = client.post(f"/campaigns/{campaign.pk}/exports", {"exportType": "entries"}, format="json").json()["id"]
    broker.flush_all()  # the message is gone; the database still says PENDING
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        assert wait_for_status(export_id).status == "FINISHED"
    finally:
        worker.stop()
        broker.flush_all()
