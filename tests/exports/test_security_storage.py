"""Issue 12: download links signed with their own key; orphan clean-up only of exportsite's own
files, by (bucket, key); CCPA and multi-object (SFMC) jobs leave nothing behind. Real storage
throughout: local folders on SQLite, the moto S3 server in the PostgreSQL pass."""

import copy
import io
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exports import states, storage
from exports.engine import export_run
from exports.engine.reconcile import export_reconcile
from exports.models import Export
from exports.services import export_request
from exports.services.ccpa import ccpa_delete_user_exports
from exports.services.maintenance import export_find_orphans
from exports.types import EXPORT_TYPES
from tests.conftest import open_uploads, stored_keys, uses_s3
from tests.factories import CampaignFactory, EntryFactory, FanFactory, MarketFactory, UserFactory

pytestmark = pytest.mark.django_db

SFMC_KEY = "Ticketmaster/7222895/TMDemandMgmt/DM_ArtistPresale_V03_{name}_{campaign}_202701021530.csv"
PART = b"email,phone\n" + b"fan@example.com,+15550000000\n" * 12  # over moto's 256-byte minimum part


def _campaign(entries: int = 2):
    campaign = CampaignFactory()
    market = MarketFactory(campaign=campaign)
    EntryFactory.create_batch(entries, campaign=campaign, market=market)
    return campaign


def _request(campaign, export_type: str = "entries", **body):
    user = UserFactory(is_superuser=True)
    return export_request(campaign_id=campaign.pk, body={"exportType": export_type, **body}, user=user)[0]


def _upload(alias: str, key: str, *, parts: int, complete: bool) -> storage.MultipartUpload:
    upload = storage.multipart_upload(alias, key=key, content_type="text/csv", acl="private")
    upload.start()
    written = [upload.write_part(number, PART) for number in range(1, parts + 1)]
    if complete:
        upload.complete(written)
    return upload


def _upload_keys(alias: str = "exports") -> list[str]:
    """The keys of the uploads still open in an alias's storage."""
    if uses_s3():
        return sorted(upload["Key"] for upload in open_uploads(alias))
    return sorted((folder / storage.KEY_FILE).read_text(encoding="utf-8") for folder in open_uploads(alias))


def _multi_row(campaign, *, status: str, checkpoint: dict, storage_keys=(), **fields) -> Export:
    """An autoReminderEmail (multi-object, `sfmc`) job as a worker left it."""
    return Export.objects.create(
        campaign=campaign,
        export_type="autoReminderEmail",
        parameters_digest=uuid.uuid4().hex,
        status=status,
        storage_alias="sfmc",
        storage_keys=list(storage_keys),
        checkpoint=checkpoint,
        **fields,
    )


def _share_one_location(settings, aliases: tuple[str, ...]) -> None:
    """Point `aliases` at the `exports` alias's bucket (S3) or folder (local), as the docs allow."""
    stores = copy.deepcopy(django_settings.STORAGES)
    target = stores["exports"]["OPTIONS"]
    for alias in aliases:
        option = "bucket_name" if uses_s3() else "location"
        stores[alias]["OPTIONS"][option] = target[option]
    settings.STORAGES = stores  # Django resets its storage handler on this change


# --- 1. download links -----------------------------------------------------------------------


def _token(payload: dict, key: str) -> str:
    return signing.dumps(payload, key=key, salt=storage.DOWNLOAD_SALT, compress=True)


def test_download_links_are_signed_with_their_own_key_not_secret_key_or_webhook_secret(settings):
    key = "entries/1/abc/file.tsv"
    _upload("exports", key, parts=1, complete=True)
    payload = {"a": "exports", "k": key, "f": "file.tsv", "t": 900}
    client = Client()

    def status(token: str) -> int:
        return client.get(reverse("exports:download", kwargs={"token": token})).status_code

    assert status(_token(payload, settings.SECRET_KEY)) == 404
    assert status(_token(payload, settings.EXPORTS_WEBHOOK_SECRET)) == 404
    assert status(_token(payload, settings.EXPORTS_DOWNLOAD_SIGNING_KEY)) == 200
    if not uses_s3():  # S3 links are presigned by S3 instead
        url = storage.download_url("exports", key, filename="file.tsv", ttl_seconds=900)
        response = client.get(url)
        assert response.status_code == 200 and response.getvalue() == PART
        token = url.rstrip("/").rsplit("/", 1)[1]
        with pytest.raises(signing.BadSignature):
            signing.loads(token, salt=storage.DOWNLOAD_SALT)  # SECRET_KEY does not verify it


# --- 2. orphans: own prefixes only, ownership by (bucket, key) --------------------------------


def test_orphans_in_a_shared_bucket_spare_other_aliases_files_and_foreign_objects(settings):
    _share_one_location(settings, ("scoring", "sfmc"))
    campaign = _campaign()
    scoring = _request(campaign, "scoring")
    assert export_run(export_id=str(scoring.pk)) == "finished"
    scoring.refresh_from_db()
    assert scoring.storage_alias == "scoring"

    orphan = f"entries/{campaign.pk}/{uuid.uuid4()}/left.tsv"
    _upload("exports", orphan, parts=1, complete=True)
    orphan_upload = _upload("exports", f"entries/{campaign.pk}/{uuid.uuid4()}/open.tsv", parts=1, complete=False)
    shared = storages["exports"]
    foreign = ["partner/data.csv", SFMC_KEY.format(name="Other-System", campaign=1)]
    for name in foreign:
        shared.save(name, ContentFile(b"not exportsite's"))
    _upload("exports", "partner/big.csv", parts=1, complete=False)  # another system's open upload
    # SFMC: only what a job recorded is ours; a FINISHED job's objects are owned, an ended job's left.
    kept_sfmc = SFMC_KEY.format(name="Band", campaign=campaign.pk)
    shared.save(kept_sfmc, ContentFile(PART))
    _multi_row(campaign, status="FINISHED", checkpoint={}, storage_keys=[kept_sfmc])
    left_sfmc = SFMC_KEY.format(name="Cancelled", campaign=campaign.pk)
    completed = _upload("sfmc", left_sfmc, parts=1, complete=True)
    still_open = _upload("sfmc", SFMC_KEY.format(name="Open", campaign=campaign.pk), parts=1, complete=False)
    _multi_row(
        campaign,
        status="CANCELLED",
        checkpoint={"open": [[left_sfmc, completed.upload_id], [still_open.key, still_open.upload_id]]},
    )

    assert export_find_orphans().objects == []  # everything is younger than the minimum age
    report = export_find_orphans(now=timezone.now() + timedelta(hours=2))
    assert sorted(key for _, key in report.objects) == sorted([orphan, left_sfmc])
    assert sorted(upload_id for _, _, upload_id in report.uploads) == sorted(
        [orphan_upload.upload_id, still_open.upload_id]
    )

    out = io.StringIO()
    call_command("clean_orphans", "--delete", "--min-age", "0", stdout=out)
    assert "2 object(s) and 2 upload(s) deleted." in out.getvalue()
    assert sorted(stored_keys()) == sorted([scoring.storage_key, *foreign, kept_sfmc])
    assert _upload_keys() == ["partner/big.csv"]


def test_orphan_listing_never_reads_outside_its_own_prefixes():
    with pytest.raises(ValueError, match="not a key prefix"):
        list(storage.list_objects("exports", prefix=""))
    assert {t.own_key_prefix for t in EXPORT_TYPES.values() if t.output == "multi"} == {None}
    prefixes = [t.own_key_prefix for t in EXPORT_TYPES.values() if t.own_key_prefix]
    assert all(not a.startswith(b) for a in prefixes for b in prefixes if a != b)  # none hides another


# --- 3. CCPA -----------------------------------------------------------------------------------


def _fan_in(campaign, user_id: str) -> None:
    EntryFactory(campaign=campaign, market=campaign.markets.first(), fan=FanFactory(global_user_id=user_id))


def test_ccpa_deletes_the_file_of_a_job_that_finished_between_listing_and_cancel(monkeypatch):
    campaign = _campaign()
    _fan_in(campaign, "fan-race")
    export = _request(campaign)
    real_cancel = states.cancel

    def worker_finishes_first(export_id):
        assert export_run(export_id=str(export_id)) == "finished"  # the listing still said PENDING
        return real_cancel(export_id)

    monkeypatch.setattr(states, "cancel", worker_finishes_first)
    result = ccpa_delete_user_exports(user_id="fan-race", actor=UserFactory(is_superuser=True))
    assert result == {"deletedCount": {"exports": 1, "files": 1}}
    assert stored_keys() == [] and not Export.objects.filter(pk=export.pk).exists()


def test_ccpa_aborts_the_open_upload_of_a_job_whose_worker_died():
    campaign = _campaign()
    _fan_in(campaign, "fan-dead-worker")
    finished = _request(campaign)
    assert export_run(export_id=str(finished.pk)) == "finished"
    running = _request(campaign, includeAllMarkets=True)
    assert states.claim(running.pk, time_limit=timedelta(hours=1))
    running.refresh_from_db()
    entries = EXPORT_TYPES["entries"]
    key = entries.storage_key(campaign=campaign, export_id=str(running.pk), created_at=running.created_at)
    upload = _upload("exports", key, parts=2, complete=False)
    assert states.record_upload_started(
        running.pk, attempt=1, storage_alias="exports", storage_key=key, upload_id=upload.upload_id, row_estimate=3
    )
    assert _upload_keys() == [key]

    result = ccpa_delete_user_exports(user_id="fan-dead-worker", actor=UserFactory(is_superuser=True))
    assert result == {"deletedCount": {"exports": 2, "files": 1}}  # the open upload was no file yet
    assert stored_keys() == [] and open_uploads() == [] and not upload.is_open()
    assert not Export.objects.filter(campaign=campaign).exists()


# --- 4. multi-object jobs that end without FINISHED ---------------------------------------------


def _half_written_multi(campaign) -> tuple[dict, list[str]]:
    """What a multi-object attempt leaves when its worker dies while completing: one object
    completed, one upload with parts still open; both listed in checkpoint["open"]."""
    done = _upload("sfmc", SFMC_KEY.format(name="Done", campaign=campaign.pk), parts=1, complete=True)
    open_one = _upload("sfmc", SFMC_KEY.format(name="Open", campaign=campaign.pk), parts=2, complete=False)
    return {"open": [[done.key, done.upload_id], [open_one.key, open_one.upload_id]]}, [done.key, open_one.key]


@pytest.mark.parametrize("case", ["gave_up", "expired", "pending_expired", "cancelled"])
def test_reconciler_removes_what_an_ended_multi_object_job_left(settings, case):
    settings.EXPORTS_MAX_ATTEMPTS = 1
    campaign = CampaignFactory()
    foreign = SFMC_KEY.format(name="Someone-Else", campaign=999999)
    storages["sfmc"].save(foreign, ContentFile(b"the e-mail platform's"))
    checkpoint, keys = _half_written_multi(campaign)
    assert sorted(stored_keys("sfmc")) == sorted([foreign, keys[0]]) and _upload_keys("sfmc") == [keys[1]]
    old, now = timezone.now() - timedelta(minutes=10), timezone.now()
    status = {"pending_expired": "PENDING", "cancelled": "CANCELLED"}.get(case, "TRIGGERED")
    deadline = old if case in ("expired", "pending_expired") else now + timedelta(hours=1)
    export = _multi_row(
        campaign, status=status, checkpoint=checkpoint, attempts=1, heartbeat_at=old, deadline_at=deadline
    )

    report = export_reconcile()
    export.refresh_from_db()
    expected = {"gave_up": "FAILED", "expired": "EXPIRED", "pending_expired": "EXPIRED", "cancelled": "CANCELLED"}
    assert export.status == expected[case]
    assert stored_keys("sfmc") == [foreign] and _upload_keys("sfmc") == []
    assert export.checkpoint == {}
    if case == "cancelled":
        assert report.uploads_aborted == 1


def test_a_failed_multi_object_cleanup_is_retried_by_the_reconciler(monkeypatch):
    campaign = CampaignFactory()
    checkpoint, keys = _half_written_multi(campaign)
    export = _multi_row(campaign, status="CANCELLED", checkpoint=checkpoint)
    real_delete = storage.object_delete

    def storage_down(alias, key):
        raise OSError("storage unavailable")

    monkeypatch.setattr(storage, "object_delete", storage_down)
    assert export_reconcile().uploads_aborted == 0
    export.refresh_from_db()
    assert export.checkpoint == checkpoint  # still recorded, so the next pass can finish the job
    monkeypatch.setattr(storage, "object_delete", real_delete)
    assert export_reconcile().uploads_aborted == 1
    assert stored_keys("sfmc") == [] and _upload_keys("sfmc") == []


def test_local_folder_orphan_listing_skips_upload_part_folders_and_temp_files():
    if uses_s3():
        pytest.skip("local folders only")
    root = Path(storages["exports"].location)  # type: ignore[attr-defined]
    (root / "entries" / "1").mkdir(parents=True)
    (root / "entries" / "1" / ".f.tsv.x.tmp").write_bytes(b"half")
    _upload("exports", "entries/1/x/open.tsv", parts=1, complete=False)
    assert list(storage.list_objects("exports", prefix="entries/")) == []
    assert [key for key, _, _ in storage.list_uploads("exports", prefix="entries/")] == ["entries/1/x/open.tsv"]
    assert list(storage.list_uploads("exports", prefix="scoring/")) == []
