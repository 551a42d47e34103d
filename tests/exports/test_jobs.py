"""The Export job: dedupe, claims, redelivery, failure, cancellation and deadlines."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from exports import states
from exports.engine import export_run
from exports.models import ExpiredReason, Export, FailureKind
from exports.services import export_request, parameters_digest
from tests.conftest import before_each_part_is_stored, open_uploads, read_export_bytes, stored_keys
from tests.factories import CampaignFactory, EntryFactory, MarketFactory, UserFactory


def _campaign_with_entries(count: int):
    campaign = CampaignFactory()
    market = MarketFactory(campaign=campaign)
    EntryFactory.create_batch(count, campaign=campaign, market=market)
    return campaign


def _request(campaign, body=None):
    user = UserFactory(is_superuser=True)
    return export_request(campaign_id=campaign.pk, body=body or {"exportType": "entries"}, user=user)


@pytest.mark.django_db
def test_database_refuses_a_second_active_job_with_the_same_parameters():
    campaign = CampaignFactory.create()
    digest = parameters_digest({})
    Export.objects.create(campaign=campaign, export_type="entries", parameters_digest=digest)
    with pytest.raises(IntegrityError), transaction.atomic():
        Export.objects.create(campaign=campaign, export_type="entries", parameters_digest=digest)
    # finished jobs do not block a new one
    Export.objects.update(status="FINISHED")
    Export.objects.create(campaign=campaign, export_type="entries", parameters_digest=digest)


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_requests_create_exactly_one_job():
    campaign = _campaign_with_entries(1)
    user = UserFactory(is_superuser=True)
    barrier = threading.Barrier(8)
    results, errors = [], []

    def request():
        try:
            barrier.wait()
            results.append(export_request(campaign_id=campaign.pk, body={"exportType": "entries"}, user=user))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({export.pk for export, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert Export.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_one_job_exactly_one_claims_it():
    campaign = _campaign_with_entries(1)
    export, _ = _request(campaign)
    barrier = threading.Barrier(2)
    outcomes = []

    def claim():
        barrier.wait()
        from datetime import timedelta

        outcomes.append(states.claim(export.pk, time_limit=timedelta(minutes=5)))
        connection.close()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False, True]
    assert Export.objects.get(pk=export.pk).attempts == 1


@pytest.mark.django_db
def test_redelivered_message_for_a_finished_job_does_nothing():
    campaign = _campaign_with_entries(3)
    export, _ = _request(campaign)
    assert export_run(export_id=str(export.pk)) == "finished"
    first = Export.objects.get(pk=export.pk)
    assert export_run(export_id=str(export.pk)) == "skipped"
    again = Export.objects.get(pk=export.pk)
    assert (again.status, again.attempts, again.sha256, again.finished_at) == (
        "FINISHED",
        1,
        first.sha256,
        first.finished_at,
    )
    assert export_run(export_id="00000000-0000-0000-0000-000000000000") == "missing"


@pytest.mark.django_db
def test_finished_job_records_rows_bytes_and_sha256():
    import hashlib

    campaign = _campaign_with_entries(25)
    export, _ = _request(campaign)
    export_run(export_id=str(export.pk))
    export.refresh_from_db()
    data = read_export_bytes(export)
    assert export.status == "FINISHED" and export.row_count == 25 and export.rows_written == 25
    assert export.bytes_written == len(data) and export.sha256 == hashlib.sha256(data).hexdigest()
    assert data.count(b"\n") == 26
    assert open_uploads() == []
    assert export.snapshot["max_entry_id"] > 0


@pytest.mark.django_db
def test_campaign_without_markets_fails_with_a_readable_error_and_no_file():
    campaign = CampaignFactory.create()
    export, _ = _request(campaign)
    assert export_run(export_id=str(export.pk)) == "failed"
    export.refresh_from_db()
    assert export.status == "FAILED" and export.failure_kind == "data"
    assert "no markets" in export.error_message
    assert export.error_payload == f"Campaign {campaign.pk} has no markets."
    assert stored_keys() == [] and open_uploads() == []


def _upload_class():
    from exports import storage

    return type(storage.multipart_upload("exports", key="probe", content_type="", acl="private"))


@pytest.mark.django_db
def test_failure_after_parts_were_uploaded_aborts_the_upload(settings, monkeypatch):
    settings.EXPORTS_PART_SIZE_BYTES = 512
    campaign = _campaign_with_entries(60)
    export, _ = _request(campaign)
    parts = []

    def explode_after_three(number):
        parts.append(number)
        if len(parts) > 3:
            raise RuntimeError("disk on fire")

    before_each_part_is_stored(monkeypatch, explode_after_three)
    assert export_run(export_id=str(export.pk)) == "failed"
    # three parts were uploaded before the failure; uploads run in the background, so up to two
    # queued parts may have been tried after it before the error surfaced
    assert 4 <= len(parts) <= 6
    export.refresh_from_db()
    assert export.status == "FAILED" and export.failure_kind == "internal"
    assert "internal error" in export.error_message and export.error_payload == "RuntimeError"
    assert export.upload_id == "" and export.storage_key == ""
    assert stored_keys() == [] and open_uploads() == []


@pytest.mark.django_db(transaction=True)
def test_cancelled_job_stops_at_its_next_check_and_leaves_nothing(settings, monkeypatch):
    settings.EXPORTS_PART_SIZE_BYTES = 512
    campaign = _campaign_with_entries(60)
    export, _ = _request(campaign)

    def cancelled_meanwhile(number):
        if number == 2:
            # Staff cancel from another process (here: a thread with its own connection; the
            # worker's connection may be busy streaming a COPY).
            outcome = []

            def cancel() -> None:
                outcome.append(states.cancel(export.pk))
                connection.close()

            thread = threading.Thread(target=cancel)
            thread.start()
            thread.join()
            assert outcome == [True]

    before_each_part_is_stored(monkeypatch, cancelled_meanwhile)
    assert export_run(export_id=str(export.pk)) == "stopped"
    export.refresh_from_db()
    assert export.status == "CANCELLED" and export.cancelled_at is not None
    assert stored_keys() == [] and open_uploads() == []


@pytest.mark.django_db
def test_job_over_its_time_limit_ends_expired_with_reason_timeout(settings):
    settings.EXPORTS_PART_SIZE_BYTES = 512
    settings.EXPORTS_DEFAULT_TIME_LIMIT_SECONDS = 0
    campaign = _campaign_with_entries(30)
    export, _ = _request(campaign)
    assert export_run(export_id=str(export.pk)) == "expired"
    export.refresh_from_db()
    assert export.status == "EXPIRED" and export.expired_reason == "timeout"
    assert "time limit" in export.error_message
    assert stored_keys() == [] and open_uploads() == []


@pytest.mark.django_db
def test_rows_created_after_the_job_started_are_not_exported(monkeypatch):
    campaign = _campaign_with_entries(5)
    export, _ = _request(campaign)
    from exports.types.entries import EntriesExport

    real_prepare = EntriesExport.prepare

    def prepare_then_new_entry(self, ctx):
        real_prepare(self, ctx)
        EntryFactory(campaign=campaign, market=campaign.markets.first())

    monkeypatch.setattr(EntriesExport, "prepare", prepare_then_new_entry)
    export_run(export_id=str(export.pk))
    export.refresh_from_db()
    assert export.row_count == 5
    assert read_export_bytes(export).count(b"\n") == 6


@pytest.mark.django_db
def test_transitions_are_compare_and_set_and_illegal_ones_are_refused():
    campaign = CampaignFactory.create()
    export = Export.objects.create(campaign=campaign, export_type="entries", parameters_digest="d", status="FAILED")
    with pytest.raises(states.IllegalTransition):
        states.expire(export.pk, reason=ExpiredReason.STAFF, from_statuses=("FAILED",))
    assert states.cancel(export.pk) is False
    assert (
        states.finish(
            export.pk, attempt=None, row_count=1, bytes_written=1, sha256="x", storage_keys=[], file_expires_at=None
        )
        is False
    )
    assert Export.objects.get(pk=export.pk).status == "FAILED"


@pytest.mark.django_db
def test_a_replaced_worker_is_fenced_off_by_its_attempt_number():
    from datetime import timedelta

    campaign = CampaignFactory.create()
    export = Export.objects.create(campaign=campaign, export_type="entries", parameters_digest="d")
    assert states.claim(export.pk, time_limit=timedelta(minutes=5))
    assert states.requeue(export.pk, attempt=1, message="m", payload="p", kind=FailureKind.TRANSIENT)
    assert states.claim(export.pk, time_limit=timedelta(minutes=5))
    assert states.record_progress(export.pk, attempt=1, rows_written=5, bytes_written=5) is False
    assert states.fail(export.pk, attempt=1, message="m", payload="p", kind=FailureKind.INTERNAL) is False
    assert states.record_progress(export.pk, attempt=2, rows_written=5, bytes_written=5) is True
    assert Export.objects.get(pk=export.pk).status == "TRIGGERED"
