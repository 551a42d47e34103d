"""reminderEmail, reminderEmailSample, autoReminderEmail and promoterEmailOptIn: golden ZIP
members for a small awkward dataset, splitting, sampling, failures, parameters and the API."""

import csv
import io
import os
import shutil
import struct
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from campaigns import selectors
from campaigns.models import Code, ScoringRecord
from exports import storage
from exports.engine import export_run
from exports.models import Export
from exports.services import export_request
from exports.types import EXPORT_TYPES, reminder_email, reminder_rows
from exports.types.base import ExportContext
from tests.conftest import jwt_client, open_uploads, read_export_bytes, stored_keys
from tests.exports.golden_reminder_data import LNAA_CAMPAIGN_ID, REMINDER_CAMPAIGN_ID, reminder_campaigns
from tests.factories import CampaignFactory, FanFactory, MarketFactory, UserFactory

pytestmark = pytest.mark.django_db

GOLDEN = Path(__file__).parent / "golden"
REGIONS = ["AU", "DE", "NA", "UK"]
MEMBERS = [f"{region}/reminder_email_8001_{region}_001.csv" for region in REGIONS]
ARTIST_KEY_PART = "Zoe-Z-The-Band-Friends-of-the-Band"


@pytest.fixture
def dataset(settings):
    # Tiny pages, so every region's stream spans several keyset pages.
    settings.EXPORTS_PAGE_SIZE = 2
    return reminder_campaigns()


def _run(campaign_id: int, body: dict) -> Export:
    export, created = export_request(campaign_id=campaign_id, body=body, user=UserFactory(is_superuser=True))
    assert created
    export_run(export_id=str(export.pk))
    export.refresh_from_db()
    return export


def _finished(campaign_id: int, body: dict) -> Export:
    export = _run(campaign_id, body)
    assert export.status == "FINISHED", (export.error_message, export.error_payload)
    return export


def _members(export: Export) -> dict[str, bytes]:
    """The ZIP's members in archive order, after an integrity check of every member."""
    with zipfile.ZipFile(io.BytesIO(read_export_bytes(export))) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def _assert_golden_members(folder_name: str, members: dict[str, bytes]) -> None:
    folder = GOLDEN / folder_name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        shutil.rmtree(folder, ignore_errors=True)
        for name, data in members.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
    on_disk = sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())
    assert sorted(members) == on_disk
    for name, data in members.items():
        assert data == (folder / name).read_bytes(), name


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def _golden_rows(region: str) -> list[list[str]]:
    return _rows((GOLDEN / "reminderEmail" / region / f"reminder_email_8001_{region}_001.csv").read_bytes())


# --- reminderEmail ------------------------------------------------------------------------------


def test_reminder_email_zip_matches_golden_members(dataset):
    export = _finished(REMINDER_CAMPAIGN_ID, {"exportType": "reminderEmail"})
    members = _members(export)
    assert list(members) == MEMBERS
    _assert_golden_members("reminderEmail", members)
    assert export.row_count == 11
    assert export.storage_key.endswith(".zip") and export.storage_keys == [export.storage_key]
    assert export.parameters == {"maxRowsPerFile": 50000}


def test_reminder_email_cells_follow_the_sfmc_rules(dataset):
    export = _finished(REMINDER_CAMPAIGN_ID, {"exportType": "reminderEmail"})
    by_region = {name.split("/")[0]: _rows(data) for name, data in _members(export).items()}
    header = by_region["NA"][0]
    assert header == list(reminder_email.REMINDER_HEADERS)
    rows = {region: [dict(zip(header, row, strict=True)) for row in body[1:]] for region, body in by_region.items()}
    na, uk = rows["NA"], rows["UK"]
    assert [row["code"] for row in na] == ["PRESALE-1", 'Q"3', "'+MX4", "NEW-6", "MX-9", "CA-10"]
    assert [row["mid"] for row in na] == ["7222895", "7222895", "523000091", "7222895", "523000091", "7222895"]
    assert [row["locale"] for row in na] == ["en-us", "fr-ca", "en-us", "en-us", "es-mx", ""]
    assert {row["region"] for row in na} == {"NA"} and {row["country"] for row in na} == {"US", "CA", "MX"}
    assert [(row["email"], row["mid"], row["code"], row["locale"]) for row in uk] == [
        ("x@y.com", "1314420", "'=CODE,2", "en-gb"),
        ("cmd@example.com", "1362441", "'@IE5", "en-gb"),
        ("ann@example.com", "1314420", "GB-13", "en-gb"),
    ]
    zoe, cmd = uk[0], uk[1]
    assert zoe["first_name"] == 'Zoë "Z"\tTab' and zoe["last_name"] == "O'Brien, Jr."
    assert zoe["market_name"] == "London\nO2" and zoe["event_date"] == "2027-08-01"
    assert cmd["first_name"] == "'=cmd|' /C calc'!A0" and cmd["member_id"] == "'=M8205"
    yamada, plus, blank = na[1], na[2], na[5]
    assert yamada["first_name"] == "山田\n太郎" and yamada["last_name"] == "'@SUM(1+1)"
    assert plus["first_name"] == "'+Plus" and plus["last_name"] == "'-Minus"
    assert plus["venue_name"] == "'=Foro Sol" and plus["event_date"] == "" and plus["market_name"] == "Ciudad de México"
    assert blank["email"] == "'+entry@example.com" and blank["first_name"] == "Entry\r\nFirst"
    assert na[0]["artist_name"] == 'Zoë "Z", The Band Friends\tof the Band'
    assert na[0]["campaign_name"] == 'Summer, "Live" 2027' and na[0]["campaign_id"] == "8001"
    assert rows["AU"][0]["locale"] == "en-au" and rows["AU"][0]["venue_name"] == "'@Qudos Bank Arena"
    assert rows["DE"][0]["code"] == "DE\t7" and rows["DE"][0]["mid"] == "1347780"


def test_lnaa_campaign_sends_north_america_through_lne(dataset):
    export = _finished(LNAA_CAMPAIGN_ID, {"exportType": "reminderEmail"})
    members = _members(export)
    assert list(members) == ["NA/reminder_email_8002_NA_001.csv", "UK/reminder_email_8002_UK_001.csv"]
    _assert_golden_members("reminderEmail_lnaa", members)
    na = _rows(members["NA/reminder_email_8002_NA_001.csv"])
    uk = _rows(members["UK/reminder_email_8002_UK_001.csv"])
    assert [row[16] for row in na[1:]] == ["518008883"] and [row[16] for row in uk[1:]] == ["1314420"]
    assert na[1][5] == "Official MÖTLEY CRÜE Fan Club" and na[1][7] == "'=LNAA Tour"


def test_max_rows_per_file_splits_each_region_into_numbered_parts(dataset):
    export = _finished(REMINDER_CAMPAIGN_ID, {"exportType": "reminderEmail", "maxRowsPerFile": 2})
    members = _members(export)
    assert list(members) == [
        "AU/reminder_email_8001_AU_001.csv",
        "DE/reminder_email_8001_DE_001.csv",
        "NA/reminder_email_8001_NA_001.csv",
        "NA/reminder_email_8001_NA_002.csv",
        "NA/reminder_email_8001_NA_003.csv",
        "UK/reminder_email_8001_UK_001.csv",
        "UK/reminder_email_8001_UK_002.csv",
    ]
    for region in REGIONS:
        parts = [_rows(data) for name, data in members.items() if name.startswith(f"{region}/")]
        golden = _golden_rows(region)
        assert all(part[0] == golden[0] and 1 <= len(part) - 1 <= 2 for part in parts)
        assert [row for part in parts for row in part[1:]] == golden[1:]
    assert export.row_count == 11


def test_sample_has_at_most_sample_size_rows_per_region(dataset):
    export = _finished(REMINDER_CAMPAIGN_ID, {"exportType": "reminderEmailSample", "sampleSize": 2})
    members = _members(export)
    assert list(members) == [f"{region}/reminder_email_sample_8001_{region}_001.csv" for region in REGIONS]
    for region in REGIONS:
        golden = _golden_rows(region)
        sample = _rows(members[f"{region}/reminder_email_sample_8001_{region}_001.csv"])
        assert sample == golden[: 1 + min(2, len(golden) - 1)]
    assert export.row_count == 6
    assert export.parameters == {"maxRowsPerFile": 50000, "sampleSize": 2}


@pytest.mark.parametrize("sample_size", [1, 2, 3, 100])
def test_the_sample_plan_is_the_full_plan_cut_to_the_sample(dataset, sample_size, django_assert_max_num_queries):
    campaign = dataset["main"]
    upper_id = selectors.scoring_max_id(campaign_id=campaign.pk)
    full = reminder_rows.reminder_plan(campaign, upper_id=upper_id)
    # The markets (one probe each, in one statement), then one statement per region: the
    # campaign's other selected records are never read.
    with django_assert_max_num_queries(1 + len(full.regions)):
        sample = reminder_rows.reminder_sample_plan(campaign, upper_id=upper_id, sample_size=sample_size)
    assert sample.markets == full.markets and sample.artist_name == full.artist_name
    assert [(r.region, r.market_ids) for r in sample.regions] == [(r.region, r.market_ids) for r in full.regions]
    assert [r.rows for r in sample.regions] == [min(r.rows, sample_size) for r in full.regions]
    for region in sample.regions:
        first = selectors.selected_first(
            campaign_id=campaign.pk, market_ids=region.market_ids, upper_id=upper_id, rows=sample_size
        )
        assert region.last_id == first[-1][0]
    sampled_locales = {locale for r in sample.regions for _, _, locale in selectors.selected_first(
        campaign_id=campaign.pk, market_ids=r.market_ids, upper_id=upper_id, rows=sample_size)}  # fmt: skip
    assert sample.locales == sorted(sampled_locales) and set(sample.locales) <= set(full.locales)
    if sample_size >= max(r.rows for r in full.regions):
        assert sample.locales == full.locales


def test_estimates_and_snapshot_bound(dataset):
    campaign = dataset["main"]
    for key, parameters, expected in [
        ("reminderEmail", {"maxRowsPerFile": 2}, 11),
        ("reminderEmailSample", {"maxRowsPerFile": 2, "sampleSize": 1}, 4),
        ("autoReminderEmail", {}, 11),
    ]:
        export_type = EXPORT_TYPES[key]
        ctx = ExportContext(
            export_id="x",
            campaign=campaign,
            parameters=parameters,
            snapshot=export_type.snapshot(campaign),
            page_size=2,
            started_at=datetime(2027, 1, 2, 3, 4, tzinfo=UTC),
        )
        # Selected after the job started (a higher id: explicit, as PostgreSQL sequences ignore
        # the dataset's explicit keys): outside its snapshot.
        late = ScoringRecord.objects.create(pk=8599, campaign=campaign, fan_id=8201, market_id=8106, selected=True)
        late.codes.add(Code.objects.create(pk=8399, campaign=campaign, market_id=8106, value="LATE"))
        export_type.prepare(ctx)
        assert export_type.estimate(ctx) == expected, key
        written = [record.row.id for output in export_type.files(ctx) for record in output.records]
        assert len(written) == expected and late.pk not in written
        Code.objects.filter(value="LATE").delete()
        late.delete()


def test_file_count_is_bounded(dataset, monkeypatch):
    monkeypatch.setattr(reminder_email, "MAX_FILES_PER_EXPORT", 5)
    export = _run(REMINDER_CAMPAIGN_ID, {"exportType": "reminderEmail", "maxRowsPerFile": 1})
    assert export.status == "FAILED" and export.failure_kind == "data"
    assert "maxRowsPerFile 1" in export.error_message and "11 files" in export.error_message
    assert stored_keys() == [] and open_uploads() == []


# --- failures -----------------------------------------------------------------------------------


def _assert_failed_cleanly(export: Export, *needles: str, alias: str = "exports") -> None:
    assert export.status == "FAILED" and export.failure_kind == "data", export.error_message
    for needle in needles:
        assert needle in export.error_message and needle in export.error_payload
    assert export.storage_keys == [] and export.upload_id == ""
    assert stored_keys(alias) == [] and open_uploads(alias) == []


@pytest.mark.parametrize("export_type", ["reminderEmail", "autoReminderEmail"])
def test_selected_fan_without_a_code_fails_before_anything_is_written(dataset, export_type):
    ScoringRecord.objects.get(pk=8509).codes.clear()
    export = _run(REMINDER_CAMPAIGN_ID, {"exportType": export_type})
    alias = EXPORT_TYPES[export_type].storage_alias
    _assert_failed_cleanly(export, "8509", "8103", alias=alias)


@pytest.mark.parametrize("export_type", ["reminderEmail", "reminderEmailSample", "autoReminderEmail"])
def test_missing_code_found_while_streaming_aborts_every_upload(dataset, monkeypatch, export_type):
    # Skip the up-front check (as if the code vanished after it): AU and DE are written before
    # NA reaches record 8504, whose code is gone.
    monkeypatch.setattr(EXPORT_TYPES[export_type], "check_codes_first", False)
    ScoringRecord.objects.get(pk=8504).codes.clear()
    export = _run(REMINDER_CAMPAIGN_ID, {"exportType": export_type})
    _assert_failed_cleanly(export, "8504", "8103", alias=EXPORT_TYPES[export_type].storage_alias)


def test_sample_checks_only_the_rows_it_reads(dataset):
    ScoringRecord.objects.get(pk=8510).codes.clear()  # NA's 6th row; the sample reads 2
    export = _finished(REMINDER_CAMPAIGN_ID, {"exportType": "reminderEmailSample", "sampleSize": 2})
    assert export.row_count == 6


def test_selected_fan_in_a_country_without_sfmc_account_fails_naming_market_and_country(dataset):
    swiss = ScoringRecord.objects.get(pk=8511)
    swiss.selected = True
    swiss.save()
    swiss.codes.add(Code.objects.create(campaign_id=8001, market_id=8108, value="CH-1"))
    export = _run(REMINDER_CAMPAIGN_ID, {"exportType": "reminderEmail"})
    _assert_failed_cleanly(export, "8108", "'CH'")
    assert "Zürich" in export.error_message


def test_campaign_without_selected_fans_gives_an_empty_zip():
    campaign = CampaignFactory.create()
    MarketFactory(campaign=campaign)
    export = _finished(campaign.pk, {"exportType": "reminderEmail"})
    assert _members(export) == {} and export.row_count == 0


# --- autoReminderEmail --------------------------------------------------------------------------


def _sfmc_keys(export: Export, units: list[tuple[str, str]]) -> list[str]:
    assert export.triggered_at is not None
    stamp = export.triggered_at.astimezone(UTC).strftime("%Y%m%d%H%M")
    return [f"{prefix}_{artist}_{export.campaign_id}_{stamp}.csv" for prefix, artist in units]


def test_auto_reminder_email_writes_one_sfmc_object_per_region(dataset):
    export = _finished(REMINDER_CAMPAIGN_ID, {"exportType": "autoReminderEmail"})
    expected = _sfmc_keys(
        export,
        [
            ("TMInternational/1341602/DM_ArtistPresale/DM_ArtistPresale_V03", ARTIST_KEY_PART),
            ("TMInternational/1347780/DM_ArtistPresale/DM_ArtistPresale_V03", ARTIST_KEY_PART),
            ("Ticketmaster/7222895/TMDemandMgmt/DM_ArtistPresale_V03", ARTIST_KEY_PART),
            ("TMInternational/1314420/DM_ArtistPresale/DM_ArtistPresale_V03", ARTIST_KEY_PART),
        ],
    )
    assert export.storage_keys == expected and export.storage_key == "" and export.storage_alias == "sfmc"
    assert sorted(stored_keys("sfmc")) == sorted(expected) and stored_keys("exports") == []
    for key, region in zip(expected, REGIONS, strict=True):
        with storage.object_open("sfmc", key) as handle:
            assert (
                handle.read()
                == (GOLDEN / "reminderEmail" / region / f"reminder_email_8001_{region}_001.csv").read_bytes()
            )
    assert export.row_count == 11 and export.parameters == {}


def test_auto_reminder_email_for_lnaa_uses_the_lne_prefix(dataset):
    export = _finished(LNAA_CAMPAIGN_ID, {"exportType": "autoReminderEmail"})
    assert export.storage_keys == _sfmc_keys(
        export,
        [
            ("TMInternational/518008883/DM_ArtistPresale/DM_ArtistPresale_V03", "Official-MOTLEY-CRUE-Fan-Club"),
            ("TMInternational/1314420/DM_ArtistPresale/DM_ArtistPresale_V03", "Official-MOTLEY-CRUE-Fan-Club"),
        ],
    )


def test_api_returns_keys_and_no_path_for_auto_reminder_email(access_group, reporter):
    campaign = reminder_campaigns(access_groups=[access_group])["main"]
    client = jwt_client(reporter)
    created = client.post(f"/campaigns/{campaign.pk}/exports", {"exportType": "autoReminderEmail"}, format="json")
    assert created.status_code == 201
    export_run(export_id=created.json()["id"])
    body = client.get(f"/campaigns/{campaign.pk}/exports/{created.json()['id']}").json()
    assert body["status"] == "FINISHED" and body["count"] == 11
    assert len(body["keys"]) == 4 and body["keys"] == Export.objects.get(pk=body["id"]).storage_keys
    assert "path" not in body and "key" not in body


def test_api_returns_keys_for_a_single_region_auto_reminder_email(access_group, reporter):
    campaign = CampaignFactory.create(access_groups=[access_group], artist_name="Solo")
    market = MarketFactory.create(campaign=campaign, country="DE")
    fan = FanFactory.create()
    record = ScoringRecord.objects.create(campaign=campaign, fan=fan, market=market, selected=True)
    record.codes.add(Code.objects.create(campaign=campaign, market=market, value="ONLY"))
    client = jwt_client(reporter)
    export_id = client.post(f"/campaigns/{campaign.pk}/exports", {"exportType": "autoReminderEmail"}, format="json")
    export_run(export_id=export_id.json()["id"])
    body = client.get(f"/campaigns/{campaign.pk}/exports/{export_id.json()['id']}").json()
    assert body["status"] == "FINISHED" and len(body["keys"]) == 1 and "path" not in body
    assert body["keys"][0].startswith("TMInternational/1347780/DM_ArtistPresale/DM_ArtistPresale_V03_Solo_")


# --- promoterEmailOptIn -------------------------------------------------------------------------


def test_promoter_opt_in_zip_matches_golden_members(dataset):
    export = _finished(REMINDER_CAMPAIGN_ID, {"exportType": "promoterEmailOptIn"})
    members = _members(export)
    assert list(members) == [
        "promoter_8601_Live-Nation-Inc.csv",
        "promoter_8602_Promo-Co.csv",
        "promoter_8603_Unicode-Promoter.csv",
    ]
    _assert_golden_members("promoterEmailOptIn", members)
    live, formula, nobody = (_rows(data) for data in members.values())
    assert live[0] == [
        "email",
        "first_name",
        "last_name",
        "postal_code",
        "locale",
        "market_name",
        "promoter_name",
        "opted_in_at",
    ]
    # 8404 is linked to the promoter without allow_promoter; 8411 is another campaign's entry.
    assert [row[0] for row in live[1:]] == ["ann@example.com", "x@y.com", "'+entry@example.com"]
    assert [row[0] for row in formula[1:]] == ["ann@example.com", "yamada@example.jp"]
    assert nobody == [live[0]]
    assert live[1][3] == "10001" and live[2][3] == "SW1A 1AA" and live[2][1] == 'Zoë "Z"\tTab'
    assert live[3][1] == "Entry\r\nFirst" and live[3][7] == "2026-02-28T23:59:59.999Z"
    assert {row[6] for row in live[1:]} == {"Live Nation, Inc."} and formula[1][6] == "'=Promo+Co"
    assert formula[2][2] == "'@SUM(1+1)" and live[2][5] == "London\nO2"
    assert export.row_count == 5


def test_promoters_removed_after_the_request_fail_the_export(dataset):
    export, _ = export_request(
        campaign_id=REMINDER_CAMPAIGN_ID, body={"exportType": "promoterEmailOptIn"}, user=UserFactory(is_superuser=True)
    )
    dataset["main"].promoters.clear()
    export_run(export_id=str(export.pk))
    export.refresh_from_db()
    _assert_failed_cleanly(export)
    assert "no promoters" in export.error_message and "Campaign 8001" in export.error_payload


def test_promoters_not_found_is_a_400_at_request_time(reporter_client, campaign):
    response = reporter_client.post(
        f"/campaigns/{campaign.pk}/exports", {"exportType": "promoterEmailOptIn"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "status": 400,
            "message": "Promoters not found.",
            "payload": f"Campaign {campaign.pk} has no promoters.",
        }
    }
    assert not Export.objects.filter(campaign=campaign).exists()


# --- parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"exportType": "reminderEmail", "maxRowsPerFile": 0}, "maxRowsPerFile"),
        ({"exportType": "reminderEmail", "maxRowsPerFile": -2}, "maxRowsPerFile"),
        ({"exportType": "reminderEmail", "maxRowsPerFile": 1_000_001}, "maxRowsPerFile"),
        ({"exportType": "reminderEmail", "maxRowsPerFile": "100"}, "maxRowsPerFile"),
        ({"exportType": "reminderEmail", "maxRowsPerFile": 2.5}, "maxRowsPerFile"),
        ({"exportType": "reminderEmail", "maxRowsPerFile": True}, "maxRowsPerFile"),
        ({"exportType": "reminderEmailSample", "sampleSize": 0}, "sampleSize"),
        ({"exportType": "reminderEmailSample", "sampleSize": 10_001}, "sampleSize"),
        ({"exportType": "reminderEmailSample", "sampleSize": "10"}, "sampleSize"),
        ({"exportType": "reminderEmailSample", "sampleSize": [1]}, "sampleSize"),
        ({"exportType": "reminderEmailSample", "maxRowsPerFile": False}, "maxRowsPerFile"),
    ],
)
def test_invalid_parameters_are_400_naming_the_parameter(reporter_client, campaign, body, name):
    response = reporter_client.post(f"/campaigns/{campaign.pk}/exports", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400 and f"'{name}'" in error["message"] and f"'{name}'" in error["payload"]
    assert not Export.objects.filter(campaign=campaign).exists()


def test_defaults_are_filled_in_so_explicit_defaults_dedupe(reporter_client, campaign):
    url = f"/campaigns/{campaign.pk}/exports"
    first = reporter_client.post(url, {"exportType": "reminderEmailSample"}, format="json")
    same = reporter_client.post(
        url, {"exportType": "reminderEmailSample", "maxRowsPerFile": 50000, "sampleSize": 100}, format="json"
    )
    other = reporter_client.post(url, {"exportType": "reminderEmailSample", "sampleSize": 5}, format="json")
    assert (first.status_code, same.status_code, other.status_code) == (201, 200, 201)
    assert same.json()["id"] == first.json()["id"] != other.json()["id"]
    assert first.json()["maxRowsPerFile"] == 50000 and first.json()["sampleSize"] == 100
    nulls = reporter_client.post(url, {"exportType": "reminderEmailSample", "sampleSize": None}, format="json")
    assert nulls.status_code == 200 and nulls.json()["id"] == first.json()["id"]


def test_export_types_describe_the_new_types(reporter_client):
    described = {item["key"]: item for item in reporter_client.get("/export-types").json()}
    assert described["reminderEmail"]["columns"] == list(reminder_email.REMINDER_HEADERS)
    assert described["reminderEmail"]["format"] == "zip" and described["reminderEmail"]["output"] == "zip"
    assert [p["name"] for p in described["reminderEmailSample"]["parameters"]] == ["maxRowsPerFile", "sampleSize"]
    assert described["autoReminderEmail"]["output"] == "multi" and described["autoReminderEmail"]["storage"] == "sfmc"
    assert described["promoterEmailOptIn"]["columns"][-1] == "opted_in_at"


def test_reminder_pages_are_bounded_by_page_size_and_limit(dataset):
    def page_sizes(**kwargs):
        pages = selectors.selected_reminder_pages(
            campaign_id=REMINDER_CAMPAIGN_ID, market_ids=[8101, 8102, 8103], upper_id=10_000, page_size=2, **kwargs
        )
        return [[row.id for row in page] for page in pages]

    assert page_sizes() == [[8501, 8503], [8504, 8506], [8509, 8510]]
    assert page_sizes(limit=3) == [[8501, 8503], [8504]]
    assert page_sizes(after_id=8506) == [[8509, 8510]]


def _raw_member(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """A member's stored (compressed) bytes, read past its local file header."""
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    return data[start : start + info.compress_size]


@pytest.mark.parametrize("level", [None, 0, 9])
def test_zip_members_are_deflated_at_the_configured_level(dataset, settings, level):
    # None: the shipped default, level 1 (chosen by measurement: bench/README.md, "ZIP levels").
    if level is not None:
        settings.EXPORTS_ZIP_LEVEL = level
    export = _finished(REMINDER_CAMPAIGN_ID, {"exportType": "reminderEmail"})
    data = read_export_bytes(export)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            assert info.compress_type == zipfile.ZIP_DEFLATED
            compressor = zlib.compressobj(1 if level is None else level, zlib.DEFLATED, -15)
            expected = compressor.compress(archive.read(info)) + compressor.flush()
            assert _raw_member(data, info) == expected, (info.filename, level)
