"""The entries export, byte for byte, for a small dataset full of awkward values."""

import csv
import io
import os
from pathlib import Path

import pytest

from exports.engine import export_run
from exports.models import Export
from exports.services import export_request
from tests.conftest import read_export_bytes
from tests.exports.golden_data import golden_campaign
from tests.factories import UserFactory

GOLDEN = Path(__file__).parent / "golden"


def _export_bytes(body: dict) -> tuple[bytes, Export]:
    user = UserFactory(is_superuser=True)
    campaign = golden_campaign()
    export, created = export_request(campaign_id=campaign.pk, body=body, user=user)
    assert created
    assert export_run(export_id=str(export.pk)) == "finished"
    export.refresh_from_db()
    return read_export_bytes(export), export


def _assert_golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(data)
    assert data == path.read_bytes()


@pytest.mark.django_db
def test_entries_export_matches_golden_file():
    data, export = _export_bytes({"exportType": "entries"})
    _assert_golden("entries.tsv", data)
    assert export.row_count == 3
    assert export.storage_key.endswith(".tsv")


@pytest.mark.django_db
def test_entries_export_with_all_markets_matches_golden_file():
    data, export = _export_bytes({"exportType": "entries", "includeAllMarkets": True})
    _assert_golden("entries_all_markets.tsv", data)
    assert export.row_count == 5


@pytest.mark.django_db
def test_entries_golden_file_round_trips_through_csv_module():
    data, _ = _export_bytes({"exportType": "entries"})
    rows = list(csv.reader(io.StringIO(data.decode("utf-8")), delimiter="\t"))
    header, body = rows[0], rows[1:]
    assert header[:17] == [
        "id",
        "contest_title",
        "entry_date",
        "tm_id",
        "globalUserId",
        "ip_address",
        "email",
        "first_name",
        "last_name",
        "Zip Code",
        "Mobile Phone",
        "Hbase_ID",
        "Select Show",
        "Event_ID",
        "locale",
        "campaign_id",
        "Phone confirmed",
    ]
    assert header[17:] == ["#checkbox.p1", "#select.p2", "#text.p3"]
    by_id = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    first, awkward, unicode = by_id["9301"], by_id["9302"], by_id["9303"]
    # fallbacks: entry email/phone over the fan's, fan names over the entry's, IP postal code first
    assert first["email"] == "plain@example.com" and first["Mobile Phone"] == "+15551234567"
    assert awkward["email"] == "x@y.com" and awkward["first_name"] == 'Zoë "Z"\tTab'
    assert awkward["Zip Code"] == "SW1A 1AA" and first["Zip Code"] == "10001"
    assert unicode["first_name"] == "山田\n太郎" and unicode["last_name"] == "'@SUM(1+1)"
    assert first["Select Show"] == "7/04 - Chicago, IL" and first["Event_ID"] == "EV1,EV2"
    assert first["entry_date"] == "2026-01-02T03:04:05.123Z" and first["Phone confirmed"] == "true"
    # formula guard: text cells, not plain numbers
    assert first["#text.p3"] == "'=1+1" and awkward["ip_address"] == "'-1.2.3.4"
    assert unicode["Mobile Phone"] == "'+1 (555) 010-9999"
    assert awkward["#checkbox.p1"] == "false" and unicode["#select.p2"] == "A,B"
    assert "9304" not in by_id
