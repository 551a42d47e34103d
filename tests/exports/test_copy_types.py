"""The COPY fast path beyond the entries family: which types take it, that it writes the golden
files (the same bytes as the portable path, awkward values included), and that a file that
does not start with its key (codes) is checkpointed at batch ends and resumes byte for byte."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import botocore.exceptions
import pytest
from django.db import connection

from campaigns.models import Code
from exports import storage
from exports.engine import copy as copy_path
from exports.engine import export_run
from exports.services import export_request
from exports.types import EXPORT_TYPES
from exports.types.base import OutputShape
from tests.conftest import before_each_part_is_stored, open_uploads, read_export_bytes
from tests.exports.golden_rows_data import rows_campaign
from tests.exports.test_types_rows import GOLDEN, GOLDEN_CASES
from tests.factories import CampaignFactory, EntryFactory, FanFactory, MarketFactory, UserFactory

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the fast path exists on PostgreSQL only")

# Single-file types still written by the portable path on PostgreSQL too (issue 14 moves them).
PORTABLE_ONLY: set[str] = set()


def test_every_single_file_type_but_the_listed_ones_has_a_copy_path():
    single = {key for key, kind in EXPORT_TYPES.items() if kind.output is OutputShape.SINGLE}
    assert {key for key in single if not EXPORT_TYPES[key].has_copy_path} == PORTABLE_ONLY


@pytest.fixture
def copy_runs(monkeypatch) -> list[str]:
    """The types whose runs went through the fast path."""
    runs: list[str] = []
    real = copy_path.copy_rows_into

    def counted(ctx, run, *args, **kwargs):
        runs.append(run.export_type.key)
        return real(ctx, run, *args, **kwargs)

    monkeypatch.setattr(copy_path, "copy_rows_into", counted)
    return runs


def _bytes_of(campaign, body: dict) -> tuple[bytes, int | None]:
    export, created = export_request(campaign_id=campaign.pk, body=body, user=UserFactory(is_superuser=True))
    assert created
    assert export_run(export_id=str(export.pk)) == "finished"
    export.refresh_from_db()
    data, rows = read_export_bytes(export), export.row_count
    export.delete()  # make room for the identical request
    return data, rows


@postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize("export_type", sorted(set(GOLDEN_CASES) - PORTABLE_ONLY))
def test_the_fast_path_writes_the_golden_file_and_the_portable_path_the_same(settings, copy_runs, export_type):
    body, name, rows, _ = GOLDEN_CASES[export_type]
    campaign = rows_campaign()
    fast, fast_rows = _bytes_of(campaign, body)
    assert copy_runs == [export_type]
    assert fast == (GOLDEN / name).read_bytes() and fast_rows == rows
    settings.EXPORTS_COPY_FAST_PATH = False
    portable, _ = _bytes_of(campaign, body)
    assert copy_runs == [export_type]
    assert portable == fast


def _codes_campaign(count: int):
    campaign = CampaignFactory.create()
    markets = [MarketFactory.create(campaign=campaign, name=name) for name in ("=Paris", 'Chicago, "IL"', "Zürich")]
    fans = FanFactory.create_batch(40)
    for fan in fans[::2]:
        EntryFactory.create(campaign=campaign, fan=fan, market=markets[0], email=f"entry-{fan.pk}@example.com")
    assigned_at = datetime(2026, 3, 1, 10, 0, 0, 500000, tzinfo=UTC)
    Code.objects.bulk_create(
        Code(
            campaign=campaign,
            market=markets[n % 3],
            value=f"C{n:05d}" if n % 7 else f"=C{n}",
            date_key="1673740800000" if n % 2 else "",
            status=Code.Status.ASSIGNED if n % 3 else Code.Status.AVAILABLE,
            assigned_fan=fans[n % 40] if n % 3 else None,
            assigned_at=assigned_at if n % 3 else None,
        )
        for n in range(count)
    )
    return campaign


@postgres_only
@pytest.mark.django_db(transaction=True)  # reader threads use connections of their own
@pytest.mark.parametrize("export_type", ["codes", "codeAssignments"])
def test_a_code_export_cut_at_batch_ends_resumes_byte_for_byte(settings, monkeypatch, copy_runs, export_type):
    """Parts end at batch ends, so the checkpoint's key is a batch's upper bound; a part that
    fails mid-run is redone from there, and the file equals the portable path's."""
    settings.EXPORTS_PART_SIZE_BYTES = 64 * 1024
    settings.EXPORTS_RETRY_BACKOFF_SECONDS = 0
    monkeypatch.setattr(copy_path, "_SOLO_ROWS", 500)  # the reader pool takes part too
    campaign = _codes_campaign(6000)
    user = UserFactory(is_superuser=True)
    body = {"exportType": export_type}

    settings.EXPORTS_COPY_FAST_PATH = False
    portable_export, _ = export_request(campaign_id=campaign.pk, body=body, user=user)
    assert export_run(export_id=str(portable_export.pk)) == "finished"
    portable_export.refresh_from_db()
    expected = read_export_bytes(portable_export)
    portable_export.delete()
    settings.EXPORTS_COPY_FAST_PATH = True

    export, _ = export_request(campaign_id=campaign.pk, body=body, user=user)
    written = []

    def flaky(number):
        written.append(number)
        if len(written) == 3:  # the third part fails once, like an S3 503
            raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://s3")

    before_each_part_is_stored(monkeypatch, flaky)
    assert export_run(export_id=str(export.pk)) == "retrying"
    export.refresh_from_db()
    checkpoint = export.checkpoint
    assert len(checkpoint["parts"]) == 2
    last_key = checkpoint["last_key"]
    assert Code.objects.filter(campaign=campaign, id__lte=last_key).exists()

    assert export_run(export_id=str(export.pk)) == "finished"
    export.refresh_from_db()
    data = read_export_bytes(export)
    assert copy_runs == [export_type, export_type]
    assert data == expected
    assert export.sha256 == hashlib.sha256(expected).hexdigest()
    assert open_uploads() == []


LIST_FIRSTS = [
    "Chicago, IL",
    "",
    " ",
    "-5",
    "+1",
    "＋１２３",
    "=x",
    " =x",
    "\u200b=x",
    "＝x",
    "=\u0338x",
    "@a",
    "1.5",
    "é",
]


@postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize("rest", [[], ["B"], ["=B", "C"], ["-5"], [""]], ids=repr)
def test_a_list_cell_is_guarded_as_the_python_guard_guards_the_joined_text(rest):
    """fanlist's markets_entered: the SQL twin guards by the first item (formatted in Python
    alone and as the start of a list) and never looks into the rest; the same text as
    guard_formula of the joined list, for first items that are triggers, hidden triggers,
    numbers, blank or missing."""
    from django.db.models import TextField, Value

    from campaigns.models import Campaign
    from exports import columns_sql as cs
    from exports.columns import guard_formula

    Campaign.objects.create(name="probe")
    joined_rest = Value("|".join(rest) if rest else None, output_field=TextField())
    table = {index: name for index, name in enumerate(LIST_FIRSTS)}
    for key in [*table, 999]:  # 999: a first item missing from the table
        cell = cs.sql_list_after(table, Value(key), "|", joined_rest)
        got = Campaign.objects.annotate(cell=cell).values_list("cell", flat=True).get()
        items = ([table[key]] if key in table else []) + rest
        assert (got or "") == guard_formula("|".join(items)), (key, table.get(key), rest)


def test_a_list_separator_must_be_safe():
    from django.db.models import Value

    from exports import columns_sql as cs

    for separator in ("", "=", "-", " ", "\t", "a", "1"):
        with pytest.raises(ValueError, match="separator"):
            cs.sql_list_after({}, Value(1), separator, Value(None))


# --- ZIP and multi-object outputs ---------------------------------------------------------------

ZIP_AND_MULTI_BODIES = [
    {"exportType": "reminderEmail"},
    {"exportType": "reminderEmail", "maxRowsPerFile": 2},
    {"exportType": "reminderEmailSample", "sampleSize": 2, "maxRowsPerFile": 1},
    {"exportType": "autoReminderEmail"},
    {"exportType": "promoterEmailOptIn"},
]


def _stored_files(export) -> dict[str, bytes]:
    """A ZIP's members, or a multi-object export's objects, by name, in order."""
    import io
    import zipfile

    if EXPORT_TYPES[export.export_type].output is OutputShape.MULTI:
        files = {}
        for key in export.storage_keys:
            with storage.object_open(export.storage_alias, key) as handle:
                files[key.rsplit("_", 1)[0]] = handle.read()  # the minute stamp differs between runs
        return files
    with zipfile.ZipFile(io.BytesIO(read_export_bytes(export))) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture
def member_copies(monkeypatch) -> list[str]:
    """The types of the members the fast path wrote."""
    members: list[str] = []
    real = copy_path.copy_member_into

    def counted(run, *args, **kwargs):
        members.append(run.export_type.key)
        return real(run, *args, **kwargs)

    monkeypatch.setattr(copy_path, "copy_member_into", counted)
    return members


@postgres_only
@pytest.mark.django_db(transaction=True)  # reader threads use connections of their own
@pytest.mark.parametrize("body", ZIP_AND_MULTI_BODIES, ids=lambda body: "-".join(map(str, body.values())))
def test_zip_and_multi_members_from_the_fast_path_equal_the_portable_ones(settings, monkeypatch, member_copies, body):
    """Tiny batches, so members span several COPY batches and the reader pool takes part."""
    from tests.exports.golden_reminder_data import REMINDER_CAMPAIGN_ID, reminder_campaigns

    monkeypatch.setattr(copy_path, "_FIRST_BATCH_ROWS", 1)
    monkeypatch.setattr(copy_path, "_MIN_BATCH_ROWS", 1)
    monkeypatch.setattr(copy_path, "_MAX_BATCH_ROWS", 2)
    monkeypatch.setattr(copy_path, "_SOLO_ROWS", 2)
    reminder_campaigns()
    user = UserFactory.create(is_superuser=True)
    by_path = {}
    for fast in (True, False):
        settings.EXPORTS_COPY_FAST_PATH = fast
        export, _ = export_request(campaign_id=REMINDER_CAMPAIGN_ID, body=body, user=user)
        assert export_run(export_id=str(export.pk)) == "finished"
        export.refresh_from_db()
        by_path[fast] = (_stored_files(export), export.row_count)
        export.delete()
    fast_files, portable_files = by_path[True][0], by_path[False][0]
    assert len(member_copies) == len(fast_files) > 0  # every member (and only in the fast run)
    assert set(member_copies) == {body["exportType"]}
    assert fast_files == portable_files
    assert by_path[True][1] == by_path[False][1]
