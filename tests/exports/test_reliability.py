"""Retries, resume from checkpoints, reconciliation, retention, orphans, staff actions, CCPA."""

import hashlib
from datetime import timedelta

import botocore.exceptions
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from exports import states, storage
from exports.engine import export_run
from exports.engine.reconcile import export_reconcile
from exports.models import Export, ExportEvent
from exports.services import export_request
from exports.services.actions import ActionRefused, export_cancel, export_expire, export_retry
from exports.services.maintenance import (
    export_apply_retention,
    export_clean_orphans,
    export_find_orphans,
    periodic_task_due,
)
from tests.conftest import before_each_part_is_stored, jwt_client, open_uploads, read_export_bytes, stored_keys
from tests.factories import CampaignFactory, EntryFactory, FanFactory, MarketFactory, UserFactory

pytestmark = pytest.mark.django_db


def _campaign_with_entries(count: int, **campaign_fields):
    campaign = CampaignFactory(**campaign_fields)
    market = MarketFactory(campaign=campaign)
    extra = MarketFactory(campaign=campaign, city="Austin", state="TX")
    entries = EntryFactory.create_batch(count, campaign=campaign, market=market)
    for entry in entries[::3]:
        entry.additional_markets.add(extra)
    return campaign


def _request(campaign, user=None, **body):
    user = user or UserFactory(is_superuser=True)
    return export_request(campaign_id=campaign.pk, body={"exportType": "entries", **body}, user=user)[0]


def _uninterrupted_bytes(campaign) -> bytes:
    export = _request(campaign, includeAllMarkets=True)
    assert export_run(export_id=str(export.pk)) == "finished"
    export.refresh_from_db()
    data = read_export_bytes(export)
    Export.objects.filter(pk=export.pk).update(status="EXPIRED")  # make room for the next identical job
    return data


def test_transient_error_mid_upload_retries_and_resumes_byte_for_byte(settings, monkeypatch):
    settings.EXPORTS_PART_SIZE_BYTES = 2048
    settings.EXPORTS_RETRY_BACKOFF_SECONDS = 0
    campaign = _campaign_with_entries(120)
    expected = _uninterrupted_bytes(campaign)

    export = _request(campaign, includeAllMarkets=True)
    written = []

    def flaky(number):
        written.append(number)
        if len(written) == 4:  # the fourth part fails once, like an S3 503
            raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://s3")

    before_each_part_is_stored(monkeypatch, flaky)
    assert export_run(export_id=str(export.pk)) == "retrying"
    first_attempt_writes = len(written)  # parts are uploaded in the background: maybe one past the failure
    export.refresh_from_db()
    assert export.status == "PENDING" and export.failure_kind == "transient"
    checkpointed = len(export.checkpoint["parts"])
    assert checkpointed == 3 and export.upload_id

    assert export_run(export_id=str(export.pk)) == "finished"
    export.refresh_from_db()
    data = read_export_bytes(export)
    assert data == expected
    assert export.sha256 == hashlib.sha256(expected).hexdigest()
    assert export.attempts == 2 and export.row_count == expected.count(b"\n") - 1
    resumed_from = written[first_attempt_writes]  # the first part the second attempt uploaded
    assert resumed_from == checkpointed + 1  # only the failed part was redone
    assert open_uploads() == []


def test_transient_errors_stop_after_max_attempts_with_a_clear_reason(settings, monkeypatch):
    settings.EXPORTS_MAX_ATTEMPTS = 2
    settings.EXPORTS_RETRY_BACKOFF_SECONDS = 0
    campaign = _campaign_with_entries(5)
    export = _request(campaign)
    from django.db import OperationalError

    from exports.types.entries import EntriesExport

    def database_gone(self, ctx):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(EntriesExport, "estimate", database_gone)
    assert export_run(export_id=str(export.pk)) == "retrying"
    assert export_run(export_id=str(export.pk)) == "failed"
    export.refresh_from_db()
    assert export.status == "FAILED" and export.failure_kind == "transient" and export.attempts == 2
    assert "failed 2 times" in export.error_message and export.error_payload == "OperationalError"
    assert stored_keys() == [] and open_uploads() == []


def test_reconcile_retries_a_job_whose_worker_stopped_heartbeating(settings):
    settings.EXPORTS_STALE_AFTER_SECONDS = 60
    campaign = _campaign_with_entries(3)
    export = _request(campaign)
    assert states.claim(export.pk, time_limit=timedelta(hours=1))
    Export.objects.filter(pk=export.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    report = export_reconcile()
    export.refresh_from_db()
    assert report.retried == 1 and export.status == "PENDING" and export.enqueued_at is not None
    assert "stopped" in export.error_message
    assert export_run(export_id=str(export.pk)) == "finished"


def test_reconcile_gives_up_after_max_attempts_and_expires_past_deadline(settings):
    settings.EXPORTS_MAX_ATTEMPTS = 1
    old = timezone.now() - timedelta(minutes=10)
    stuck = _request(_campaign_with_entries(1))
    late = _request(_campaign_with_entries(1))
    for export in (stuck, late):
        assert states.claim(export.pk, time_limit=timedelta(hours=1))
    Export.objects.filter(pk__in=[stuck.pk, late.pk]).update(heartbeat_at=old)
    Export.objects.filter(pk=late.pk).update(deadline_at=old)
    report = export_reconcile()
    assert (report.gave_up, report.expired) == (1, 1)
    stuck.refresh_from_db()
    late.refresh_from_db()
    assert stuck.status == "FAILED" and stuck.failure_kind == "transient"
    assert late.status == "EXPIRED" and late.expired_reason == "timeout"


def test_reconcile_resends_pending_jobs_whose_message_was_lost(settings):
    settings.EXPORTS_REENQUEUE_AFTER_SECONDS = 30
    export = _request(_campaign_with_entries(1))
    long_ago = timezone.now() - timedelta(minutes=5)
    Export.objects.filter(pk=export.pk).update(created_at=long_ago, enqueued_at=long_ago)
    assert export_reconcile().reenqueued == 1
    assert export_reconcile().reenqueued == 0  # just sent: not again until the interval passes


def test_reconcile_aborts_uploads_left_by_jobs_cancelled_while_their_worker_was_gone():
    export = _request(_campaign_with_entries(1))
    upload = storage.multipart_upload("exports", key="entries/x/left.tsv", content_type="text/plain", acl="private")
    upload.start()
    upload.write_part(1, b"partial")
    Export.objects.filter(pk=export.pk).update(
        status="CANCELLED", upload_id=upload.upload_id, storage_key=upload.key, storage_alias="exports"
    )
    assert export_reconcile().uploads_aborted == 1
    assert open_uploads() == [] and Export.objects.get(pk=export.pk).upload_id == ""


class _Killed(BaseException):
    """Stands in for SIGKILL: the run stops where it is, and nothing records or cleans up."""


def _killed_after_starting_its_upload(monkeypatch, export) -> None:
    """Run `export` until its upload is started on storage, and kill it before the upload's id
    is recorded: what a kill -9 (or a database outage, then a kill) at that moment leaves."""
    import exports.engine.run as engine_run

    real_record = states.record_upload_started

    def record_then_die(export_id, **fields):
        if fields["upload_id"]:
            raise _Killed()
        return real_record(export_id, **fields)

    monkeypatch.setattr(states, "record_upload_started", record_then_die)
    monkeypatch.setattr(engine_run, "end_unsuccessfully", lambda run, exc: "killed")
    with pytest.raises(_Killed):
        export_run(export_id=str(export.pk))
    monkeypatch.undo()
    export.refresh_from_db()
    assert export.status == "TRIGGERED" and export.upload_id == ""
    assert len(open_uploads()) == 1  # started on storage; nobody knows its id


def test_an_upload_started_by_a_worker_killed_before_recording_it_is_aborted_by_the_next_attempt(settings, monkeypatch):
    settings.EXPORTS_STALE_AFTER_SECONDS = 60
    campaign = _campaign_with_entries(5)
    export = _request(campaign)
    _killed_after_starting_its_upload(monkeypatch, export)
    Export.objects.filter(pk=export.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert export_reconcile().retried == 1
    assert export_run(export_id=str(export.pk)) == "finished"
    export.refresh_from_db()
    assert export.attempts == 2 and export.row_count == 5
    assert open_uploads() == []
    assert stored_keys() == [export.storage_key]


def test_an_upload_started_by_a_worker_killed_before_recording_it_is_aborted_by_the_reconciler(settings, monkeypatch):
    """The job ends without another attempt (cancelled while its worker was gone)."""
    export = _request(_campaign_with_entries(5))
    _killed_after_starting_its_upload(monkeypatch, export)
    Export.objects.filter(pk=export.pk).update(status="CANCELLED")
    assert export_reconcile().uploads_aborted == 1
    assert open_uploads() == [] and stored_keys() == []
    export.refresh_from_db()
    assert export.storage_key == "" and export.checkpoint == {}
    assert export_reconcile().uploads_aborted == 0  # recorded as clean: not looked at again


def test_retention_deletes_the_file_and_expires_the_job():
    export = _request(_campaign_with_entries(2))
    export_run(export_id=str(export.pk))
    export.refresh_from_db()
    assert export.file_expires_at > timezone.now() + timedelta(days=29)
    assert export_apply_retention() == 0
    Export.objects.filter(pk=export.pk).update(file_expires_at=timezone.now() - timedelta(seconds=1))
    assert export_apply_retention() == 1
    export.refresh_from_db()
    assert export.status == "EXPIRED" and export.expired_reason == "retention"
    assert stored_keys() == []


def test_orphans_are_listed_and_cleaned_but_owned_files_are_not():
    export = _request(_campaign_with_entries(2))
    export_run(export_id=str(export.pk))
    export.refresh_from_db()
    stray = storage.multipart_upload("exports", key="entries/0/x/object.tsv", content_type="text/plain", acl="private")
    stray.start()
    stray.write_part(1, b"x")
    stray.complete([storage.UploadedPart(number=1, etag=stray.write_part(1, b"x").etag, size=1)])
    open_one = storage.multipart_upload("exports", key="entries/0/x/open.tsv", content_type="text/plain", acl="private")
    open_one.start()
    report = export_find_orphans(min_age_seconds=0)
    assert ("exports", "entries/0/x/object.tsv") in report.objects
    assert ("exports", export.storage_key) not in report.objects
    assert [upload_id for _, _, upload_id in report.uploads] == [open_one.upload_id]
    export_clean_orphans(report)
    assert stored_keys() == [export.storage_key] and open_uploads() == []


def test_periodic_lease_lets_one_caller_through_per_interval():
    now = timezone.now()
    assert periodic_task_due(name="t", interval_seconds=60, now=now) is True
    assert periodic_task_due(name="t", interval_seconds=60, now=now + timedelta(seconds=10)) is False
    assert periodic_task_due(name="t", interval_seconds=60, now=now + timedelta(seconds=61)) is True


def test_staff_actions_cancel_expire_retry_are_audited():
    staff = UserFactory(is_superuser=True)
    campaign = _campaign_with_entries(2)
    export = _request(campaign, user=staff)
    export_cancel(export=export, actor=staff)
    with pytest.raises(ActionRefused):
        export_cancel(export=export, actor=staff)
    export.refresh_from_db()
    retried, created = export_retry(export=export, actor=staff)
    assert created and retried.pk != export.pk and retried.parameters == export.parameters
    again, created_again = export_retry(export=export, actor=staff)
    assert not created_again and again.pk == retried.pk  # dedupe holds
    export_run(export_id=str(retried.pk))
    retried.refresh_from_db()
    export_expire(export=retried, actor=staff)
    retried.refresh_from_db()
    assert retried.status == "EXPIRED" and retried.expired_reason == "staff" and stored_keys() == []
    actions = sorted(ExportEvent.objects.values_list("action", flat=True))
    assert actions == ["cancelled", "expired", "requested", "requested", "requested", "retried", "retried"]


def test_ccpa_deletes_exports_of_the_fans_campaigns_except_exempt_ones():
    fan = FanFactory(global_user_id="fan-42")
    entered, other = _campaign_with_entries(2), _campaign_with_entries(2)
    EntryFactory(campaign=entered, market=entered.markets.first(), fan=fan)
    mine = _request(entered)
    export_run(export_id=str(mine.pk))
    running = _request(entered, includeAllMarkets=True)
    untouched = _request(other)
    officer = UserFactory(groups=["Privacy Officer"])
    reporter = UserFactory(groups=["Campaign Reporter"])

    refused = jwt_client(reporter).delete("/ccpa/users/fan-42")
    assert refused.status_code == 403 and refused.json()["error"]["payload"] == "Missing SUPREME permissions."
    assert APIClient().delete("/ccpa/users/fan-42").status_code == 401

    response = jwt_client(officer).delete("/ccpa/users/fan-42")
    assert response.status_code == 200
    assert response.json() == {"deletedCount": {"exports": 2, "files": 1}}
    assert set(Export.objects.values_list("pk", flat=True)) == {untouched.pk}
    assert not Export.objects.filter(pk=running.pk).exists()
    assert stored_keys() == []
    again = jwt_client(officer).delete("/ccpa/users/fan-42")
    assert again.json() == {"deletedCount": {"exports": 0, "files": 0}}
    event = ExportEvent.objects.filter(action="ccpa_deleted").first()
    assert event is not None
    assert event.campaign_id == entered.pk and "fan-42" not in str(event.detail)
