"""reminderEmail (ZIP) and autoReminderEmail (several SFMC objects): request → broker → real
worker → files in storage (S3 on moto, or local folders)."""

import csv
import io
import zipfile
from datetime import UTC
from pathlib import Path

import pytest

from exports import storage
from tests.conftest import TERMINAL, jwt_client, open_uploads, read_export_bytes, stored_keys, wait_for_status
from tests.exports.golden_reminder_data import REMINDER_CAMPAIGN_ID, reminder_campaigns

pytestmark = pytest.mark.django_db(transaction=True)

GOLDEN = Path(__file__).parent / "golden" / "reminderEmail"
REGIONS = ["AU", "DE", "NA", "UK"]


def _golden(region: str) -> bytes:
    return (GOLDEN / region / f"reminder_email_8001_{region}_001.csv").read_bytes()


def _request(client, body: dict) -> str:
    response = client.post(f"/campaigns/{REMINDER_CAMPAIGN_ID}/exports", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_reminder_email_zip_is_built_by_the_worker(export_worker, access_group, reporter):
    reminder_campaigns(access_groups=[access_group])
    client = jwt_client(reporter)
    export = wait_for_status(_request(client, {"exportType": "reminderEmail", "maxRowsPerFile": 4}), TERMINAL)
    assert export.status == "FINISHED", (export.error_message, export.error_payload)

    body = client.get(f"/campaigns/{REMINDER_CAMPAIGN_ID}/exports/{export.pk}").json()
    assert body["count"] == 11 and body["key"] == export.storage_key and body["maxRowsPerFile"] == 4
    assert stored_keys() == [export.storage_key] and open_uploads() == []
    with zipfile.ZipFile(io.BytesIO(read_export_bytes(export))) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names == [
            "AU/reminder_email_8001_AU_001.csv",
            "DE/reminder_email_8001_DE_001.csv",
            "NA/reminder_email_8001_NA_001.csv",
            "NA/reminder_email_8001_NA_002.csv",
            "UK/reminder_email_8001_UK_001.csv",
        ]
        for region in REGIONS:
            parts = [archive.read(name) for name in names if name.startswith(f"{region}/")]
            header = _golden(region).split(b"\n", 1)[0] + b"\n"
            assert all(part.startswith(header) for part in parts)
            assert header + b"".join(part[len(header) :] for part in parts) == _golden(region)


def test_auto_reminder_email_objects_land_in_the_sfmc_storage(export_worker, access_group, reporter):
    reminder_campaigns(access_groups=[access_group])
    client = jwt_client(reporter)
    export = wait_for_status(_request(client, {"exportType": "autoReminderEmail"}), TERMINAL)
    assert export.status == "FINISHED", (export.error_message, export.error_payload)

    body = client.get(f"/campaigns/{REMINDER_CAMPAIGN_ID}/exports/{export.pk}").json()
    assert body["keys"] == export.storage_keys and "path" not in body and body["count"] == 11
    assert sorted(stored_keys("sfmc")) == sorted(body["keys"]) and open_uploads("sfmc") == []
    assert stored_keys("exports") == []
    assert export.triggered_at is not None
    stamp = export.triggered_at.astimezone(UTC).strftime("%Y%m%d%H%M")
    assert export.snapshot["sfmc_stamp"] == stamp  # no other job of the campaign took this minute
    for key, region in zip(body["keys"], REGIONS, strict=True):
        assert key.endswith(f"_Zoe-Z-The-Band-Friends-of-the-Band_8001_{stamp}.csv")
        with storage.object_open("sfmc", key) as handle:
            content = handle.read()
        assert content == _golden(region)
        rows = list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))
        assert {row[-1] for row in rows[1:]} == {region}


def test_two_auto_reminder_exports_in_one_minute_never_share_keys(export_worker, access_group, reporter):
    """SFMC names carry the minute: a second job of the campaign in the same minute takes the
    next free minute, so it neither overwrites the first one's objects nor can the first one's
    retention delete its files."""
    reminder_campaigns(access_groups=[access_group])
    client = jwt_client(reporter)
    first = wait_for_status(_request(client, {"exportType": "autoReminderEmail"}), TERMINAL)
    first_bytes = {key: _read("sfmc", key) for key in first.storage_keys}
    second = wait_for_status(_request(client, {"exportType": "autoReminderEmail"}), TERMINAL)
    assert first.status == second.status == "FINISHED"
    assert set(first.storage_keys).isdisjoint(second.storage_keys)
    assert len(first.storage_keys) == len(second.storage_keys) == len(REGIONS)
    assert first.snapshot["sfmc_stamp"] != second.snapshot["sfmc_stamp"]
    assert {key: _read("sfmc", key) for key in first.storage_keys} == first_bytes
    assert sorted(stored_keys("sfmc")) == sorted(first.storage_keys + second.storage_keys)


def _read(alias: str, key: str) -> bytes:
    with storage.object_open(alias, key) as handle:
        return handle.read()
