"""The entry-, code- and scoring-based export types: golden files (exact bytes), filters,
the waitlist's database-side exclusion, snapshots, resume, dateKey validation, end to end."""

import csv
import io
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Code, Entry, Fan, ScoringRecord
from exports.engine import export_run
from exports.models import Export
from exports.services import export_request
from exports.types import EXPORT_TYPES
from exports.types.base import ExportContext
from tests.conftest import read_export_bytes, stored_keys, wait_for_status
from tests.exports.golden_rows_data import WAVE_1, rows_campaign
from tests.factories import EntryFactory, FanFactory, UserFactory

GOLDEN = Path(__file__).parent / "golden"

# (request body, golden file, rows, storage alias)
GOLDEN_CASES: dict[str, tuple[dict[str, object], str, int, str]] = {
    "scoring": ({"exportType": "scoring"}, "scoring.txt", 6, "scoring"),
    "artistOptIn": ({"exportType": "artistOptIn"}, "artistOptIn.tsv", 2, "exports"),
    "artistSmsOptIn": ({"exportType": "artistSmsOptIn", "includeAllMarkets": True}, "artistSmsOptIn.tsv", 5, "exports"),
    "livenationOptIn": ({"exportType": "livenationOptIn"}, "livenationOptIn.tsv", 2, "exports"),
    "codes": ({"exportType": "codes"}, "codes.csv", 5, "exports"),
    "codeAssignments": ({"exportType": "codeAssignments"}, "codeAssignments.csv", 3, "exports"),
    "codeWaves": ({"exportType": "codeWaves", "dateKey": WAVE_1}, "codeWaves.csv", 3, "vf_scoring"),
    "verifiedEntries": ({"exportType": "verifiedEntries"}, "verifiedEntries.csv", 7, "vf_scoring"),
    "fanlist": ({"exportType": "fanlist"}, "fanlist.csv", 6, "exports"),
    "waitlist": ({"exportType": "waitlist"}, "waitlist.csv", 5, "exports"),
}


def _run(body: dict) -> tuple[bytes, Export]:
    campaign = rows_campaign()
    export, created = export_request(campaign_id=campaign.pk, body=body, user=UserFactory(is_superuser=True))
    assert created
    assert export_run(export_id=str(export.pk)) == "finished"
    export.refresh_from_db()
    return read_export_bytes(export), export


def _parse(data: bytes, export_type: str) -> list[dict]:
    delimiter = EXPORT_TYPES[export_type].file_format.delimiter
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def _context(export_type: str, campaign, parameters: dict | None = None, *, page_size: int = 2) -> ExportContext:
    """A run's context as export_run builds it (snapshot taken now), with small pages."""
    kind = EXPORT_TYPES[export_type]
    if parameters is None:
        parameters = kind.parse_parameters(GOLDEN_CASES[export_type][0])
    ctx = ExportContext(
        export_id="test",
        campaign=campaign,
        parameters=parameters,
        snapshot=kind.snapshot(campaign),
        page_size=page_size,
        started_at=datetime.now(UTC),
    )
    kind.prepare(ctx)
    return ctx


@pytest.mark.django_db
@pytest.mark.parametrize("export_type", list(GOLDEN_CASES))
def test_export_matches_golden_file(export_type):
    body, name, rows, alias = GOLDEN_CASES[export_type]
    data, export = _run(body)
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(data)
    assert data == path.read_bytes()
    assert export.row_count == rows and export.storage_alias == alias
    assert export.storage_key.endswith("." + name.rsplit(".", 1)[1])
    parsed = _parse(data, export_type)  # round-trips through the csv module, one record per row
    assert len(parsed) == rows
    header = list(parsed[0])
    described = EXPORT_TYPES[export_type].header_names()
    if export_type.endswith("OptIn"):  # preference columns are described in words
        assert header[: len(described) - 1] == described[:-1] and header[len(described) - 1 :] == ["#checkbox.q1"]
    else:
        assert header == described


def test_ccpa_keeps_scoring_and_verified_entries_exports_only():
    assert {key for key in GOLDEN_CASES if EXPORT_TYPES[key].ccpa_exempt} == {"scoring", "verifiedEntries"}


@pytest.mark.django_db
def test_opt_in_types_keep_only_their_consents():
    campaign = rows_campaign()
    expected = {"artistOptIn": [9531, 9533], "artistSmsOptIn": [9531, 9533], "livenationOptIn": [9532, 9534]}
    for export_type, ids in expected.items():
        ctx = _context(export_type, campaign, {})
        assert [record.entry.id for record in EXPORT_TYPES[export_type].records(ctx)] == ids
        assert EXPORT_TYPES[export_type].estimate(ctx) == len(ids)
    # a phone on neither the entry nor the fan: no SMS row, even with allow_sms
    Fan.objects.filter(pk=9523).update(phone="")
    ctx = _context("artistSmsOptIn", campaign, {})
    assert [record.entry.id for record in EXPORT_TYPES["artistSmsOptIn"].records(ctx)] == [9531]


@pytest.mark.django_db
def test_waitlist_excludes_scheduled_sms_wave_fans_inside_the_query():
    campaign = rows_campaign()
    ctx = _context("waitlist", campaign, {})
    with CaptureQueriesContext(connection) as queries:
        records = list(EXPORT_TYPES["waitlist"].records(ctx))
    assert [record.key for record in records] == [9552, 9553, 9555, 9556, 9557]
    assert 9554 not in [record.key for record in records]  # fan 9525 is in the scheduled wave 9561
    wave_queries = [query["sql"] for query in queries.captured_queries if "smswave" in query["sql"].lower()]
    # the exclusion is a NOT EXISTS inside each page's scoring query, never a separate read of wave members
    assert wave_queries and all("scoringrecord" in sql.lower() and "EXISTS" in sql.upper() for sql in wave_queries)
    assert EXPORT_TYPES["waitlist"].estimate(ctx) == 5


@pytest.mark.django_db
def test_waitlist_follows_wave_scheduling():
    campaign = rows_campaign()
    from campaigns.models import SmsWave

    SmsWave.objects.filter(pk=9561).update(scheduled_at=None)
    SmsWave.objects.filter(pk=9562).update(scheduled_at=datetime(2026, 5, 1, tzinfo=UTC))
    ctx = _context("waitlist", campaign, {})
    assert [record.key for record in EXPORT_TYPES["waitlist"].records(ctx)] == [9552, 9553, 9554, 9556, 9557]


@pytest.mark.django_db
@pytest.mark.parametrize("export_type", list(GOLDEN_CASES))
def test_records_resume_exactly_after_the_checkpoint_key(export_type):
    campaign = rows_campaign()
    kind = EXPORT_TYPES[export_type]
    ctx = _context(export_type, campaign)
    full = list(kind.records(ctx))
    keys = [record.key for record in full]
    assert keys == sorted(keys) and len(set(keys)) >= 2
    distinct = sorted(set(keys))
    middle = distinct[len(distinct) // 2 - 1]
    columns = kind.columns(ctx)
    resumed_ctx = _context(export_type, campaign)
    resumed_ctx.resume_after = middle
    resumed = list(kind.records(resumed_ctx))
    tail = [record for record in full if record.key > middle]
    assert [record.key for record in resumed] == [record.key for record in tail]
    assert [[c.value(r) for c in columns] for r in resumed] == [[c.value(r) for c in columns] for r in tail]


@pytest.mark.django_db
def test_rows_created_after_the_snapshot_are_left_out():
    campaign = rows_campaign()
    contexts = {key: _context(key, campaign) for key in ("codes", "fanlist", "waitlist", "scoring")}
    before = {key: [r.key for r in EXPORT_TYPES[key].records(ctx)] for key, ctx in contexts.items()}
    # Explicit ids above the dataset's: PostgreSQL sequences do not move past explicit primary keys.
    fan = FanFactory.create(pk=9601)
    market = campaign.markets.get(pk=9511)
    Code.objects.create(pk=9602, campaign=campaign, market=market, value="LATE", date_key=WAVE_1)
    EntryFactory(pk=9603, campaign=campaign, market=market, fan=fan)
    ScoringRecord.objects.create(pk=9604, campaign=campaign, fan=fan, market=market, score=1, selected=False)
    for key, ctx in contexts.items():
        assert [r.key for r in EXPORT_TYPES[key].records(ctx)] == before[key], key
        assert len(list(EXPORT_TYPES[key].records(_context(key, campaign)))) == len(before[key]) + 1, key


@pytest.mark.django_db
def test_code_wave_rows_are_the_wave_codes():
    campaign = rows_campaign()
    ctx = _context("codeWaves", campaign, {"dateKey": "1676419200000"})
    assert [record.key for record in EXPORT_TYPES["codeWaves"].records(ctx)] == [9543]
    ctx = _context("codeWaves", campaign, {"dateKey": "42"})
    assert list(EXPORT_TYPES["codeWaves"].records(ctx)) == []


MISSING = (
    "The 'dateKey' parameter is required for export type 'codeWaves'.",
    "Missing 'dateKey' value for 'codeWave'.",
)


def _wrong_type(js_type: str) -> tuple[str, str]:
    return (
        f"Date key type was invalid. Expected a numeric string, but received type: '{js_type}'.",
        "The 'dateKey' value must be a string.",
    )


def _not_numeric(value: str) -> tuple[str, str]:
    return (
        f"Date key value, '{value},' was invalid. The value must be a numeric string.",
        "The 'dateKey' value must be a numeric string.",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, MISSING),
        ({"dateKey": None}, MISSING),
        ({"dateKey": 1673740800000}, _wrong_type("number")),
        ({"dateKey": 1.5}, _wrong_type("number")),
        ({"dateKey": True}, _wrong_type("boolean")),
        ({"dateKey": {"value": "1"}}, _wrong_type("object")),
        ({"dateKey": ["1"]}, _wrong_type("object")),
        ({"dateKey": "12a"}, _not_numeric("12a")),
        ({"dateKey": "-1"}, _not_numeric("-1")),
        ({"dateKey": "1.5"}, _not_numeric("1.5")),
        ({"dateKey": " 123"}, _not_numeric(" 123")),
        ({"dateKey": ""}, _not_numeric("")),
        ({"dateKey": "١٢٣"}, _not_numeric("١٢٣")),
    ],
)
def test_code_waves_date_key_is_validated_with_the_orig_messages(reporter_client, campaign, extra, expected):
    response = reporter_client.post(
        f"/campaigns/{campaign.pk}/exports", {"exportType": "codeWaves", **extra}, format="json"
    )
    assert response.status_code == 400
    message, payload = expected
    assert response.json() == {"error": {"status": 400, "message": message, "payload": payload}}
    assert not Export.objects.exists()


@pytest.mark.django_db
def test_code_waves_accepts_a_numeric_string_and_dedupes_on_it(reporter_client, campaign):
    url = f"/campaigns/{campaign.pk}/exports"
    first = reporter_client.post(url, {"exportType": "codeWaves", "dateKey": WAVE_1}, format="json")
    assert first.status_code == 201
    assert Export.objects.get(pk=first.json()["id"]).parameters == {"dateKey": WAVE_1}
    again = reporter_client.post(url, {"exportType": "codeWaves", "dateKey": WAVE_1}, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    other = reporter_client.post(url, {"exportType": "codeWaves", "dateKey": "1"}, format="json")
    assert other.status_code == 201
    # other types ignore dateKey; scoring takes no parameters at all
    scoring = reporter_client.post(
        url, {"exportType": "scoring", "dateKey": 5, "includeAllMarkets": True}, format="json"
    )
    assert scoring.status_code == 201 and Export.objects.get(pk=scoring.json()["id"]).parameters == {}


@pytest.mark.django_db(transaction=True)
def test_scoring_export_lands_in_the_scoring_storage(export_worker, campaign, reporter):
    from tests.conftest import jwt_client

    market = campaign.markets.get()
    EntryFactory(campaign=campaign, market=market, fraud_score=0.75, score_band="HIGH", fan_score=42.0, latitude=1.5)
    EntryFactory(campaign=campaign, market=market, fan=FanFactory(first_name="=cmd|' /C calc'!A0"), longitude=-2.25)
    client = jwt_client(reporter)
    created = client.post(f"/campaigns/{campaign.pk}/exports", {"exportType": "scoring"}, format="json")
    assert created.status_code == 201
    export = wait_for_status(created.json()["id"])
    assert export.status == "FINISHED", (export.error_message, export.error_payload)
    assert export.storage_alias == "scoring" and export.row_count == 2
    assert export.storage_key.endswith(".txt")
    assert export.storage_key in stored_keys("scoring") and stored_keys("exports") == []
    rows = list(csv.reader(io.StringIO(read_export_bytes(export).decode("utf-8")), delimiter="\t"))
    header, body = rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert header[-5:] == ["nudata_score", "score_band", "fan_score", "latitude", "longitude"]
    assert len(header) == 22 and not any(name.startswith("#") for name in header)
    assert [row["id"] for row in body] == [
        str(pk) for pk in Entry.objects.filter(campaign=campaign).order_by("id").values_list("id", flat=True)
    ]
    assert body[0]["nudata_score"] == "0.75" and body[0]["fan_score"] == "42" and body[0]["latitude"] == "1.5"
    assert body[1]["first_name"] == "'=cmd|' /C calc'!A0" and body[1]["longitude"] == "-2.25"
