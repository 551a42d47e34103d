"""State writes ride out a lost database connection (exports/db_retry.py), and the API answers
503 with Retry-After while the database is unavailable.

The PostgreSQL tests drop the connection for real: the server ends the backend
(pg_terminate_backend), or the connection is pointed at a closed port, as a stopped server
answers. The restart of a whole server, with a worker and gunicorn, is test_db_outage.py.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import psycopg
import pytest
from django.db import OperationalError, connection, transaction
from django.db.models.query import QuerySet
from django.utils import timezone

from exports import db_retry, states
from exports.models import Export, FailureKind
from tests.conftest import jwt_client
from tests.factories import CampaignFactory, UserFactory
from tests.processes import database_url, free_port

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="drops a real PostgreSQL connection (PostgreSQL pass)"
)


def drop_connection() -> None:
    """The server ends this thread's backend, as a restart does; wait until it is gone."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    with psycopg.connect(database_url(connection.settings_dict), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(200):
            if other.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone() == (0,):
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} survived pg_terminate_backend")


@contextmanager
def database_unreachable():
    """New connections of this process go to a closed port (refused, like a stopped server)."""
    connection.close()
    saved = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = str(free_port())
    try:
        yield
    finally:
        connection.settings_dict["PORT"] = saved
        connection.close()


def running_export() -> Export:
    """A job claimed by attempt 1."""
    export = Export.objects.create(campaign=CampaignFactory.create(), export_type="entries", parameters_digest="d")
    Export.objects.filter(pk=export.pk).update(status="TRIGGERED", attempts=1, heartbeat_at=timezone.now())
    return export


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_heartbeat_after_the_connection_was_dropped_reconnects_and_is_written(caplog):
    export = running_export()
    drop_connection()
    started = time.monotonic()
    assert states.record_progress(export.pk, attempt=1, rows_written=42, bytes_written=420) is True
    assert time.monotonic() - started < 2
    assert Export.objects.get(pk=export.pk).rows_written == 42
    events = [record.getMessage() for record in caplog.records if record.name == "exports.db_retry"]
    assert events == ["database connection lost; retrying", "database connection restored"]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_finish_committed_with_its_reply_lost_is_recognised_as_its_own(monkeypatch):
    """The first try's UPDATE commits, then the connection dies before the answer is read: the
    retry matches no TRIGGERED row, and must still answer True (False would make the engine
    delete the finished file as if the job had been cancelled)."""
    export = running_export()
    real_update = QuerySet.update
    calls = []

    def update_then_lose_the_reply(self, **fields):
        calls.append(fields.get("status"))
        count = real_update(self, **fields)
        if len(calls) == 1:
            drop_connection()
            with connection.cursor() as cursor:  # the lost reply: a real error of the dead connection
                cursor.execute("SELECT 1")
        return count

    monkeypatch.setattr(QuerySet, "update", update_then_lose_the_reply)
    finished = states.finish(
        export.pk, attempt=1, row_count=3, bytes_written=30, sha256="ab" * 32, storage_keys=["k"], file_expires_at=None
    )
    assert finished is True
    assert calls == ["FINISHED", "FINISHED"]
    assert Export.objects.get(pk=export.pk).status == "FINISHED"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_retried_transition_does_not_claim_someone_elses_move(monkeypatch):
    """Fencing holds across a retry: the reconciler requeued the attempt meanwhile (its own
    message), so the worker's retried requeue is not its own and answers False."""
    export = running_export()
    real_update = QuerySet.update

    def someone_else_moves_it_first(self, **fields):
        monkeypatch.setattr(QuerySet, "update", real_update)
        Export.objects.filter(pk=export.pk).update(status="PENDING", error_message="The worker running this stopped.")
        drop_connection()
        return real_update(self, **fields)

    monkeypatch.setattr(QuerySet, "update", someone_else_moves_it_first)
    requeued = states.requeue(
        export.pk, attempt=1, message="A temporary problem.", payload="X", kind=FailureKind.TRANSIENT
    )
    assert requeued is False
    assert Export.objects.get(pk=export.pk).error_message == "The worker running this stopped."


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_nothing_is_retried_inside_an_atomic_block():
    export = running_export()
    with pytest.raises(OperationalError), transaction.atomic():
        drop_connection()
        started = time.monotonic()
        states.record_progress(export.pk, attempt=1, rows_written=1, bytes_written=1)
    assert time.monotonic() - started < 1
    connection.close()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_request_does_not_wait_for_the_database():
    export = running_export()
    drop_connection()
    started = time.monotonic()
    with pytest.raises(OperationalError), db_retry.without_waiting():
        states.record_progress(export.pk, attempt=1, rows_written=1, bytes_written=1)
    assert time.monotonic() - started < 1
    connection.close()  # what Django does at the end of a request whose connection broke


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_database_that_stays_down_is_given_up_after_the_configured_seconds(settings):
    export = running_export()
    settings.EXPORTS_DB_RETRY_SECONDS = 2
    started = time.monotonic()
    with pytest.raises(OperationalError), database_unreachable():
        states.record_progress(export.pk, attempt=1, rows_written=1, bytes_written=1)
    waited = time.monotonic() - started
    assert 1.0 <= waited <= 3.5, waited


@pytest.mark.django_db(transaction=True)
def test_an_error_on_a_connection_that_still_answers_is_not_retried():
    """A query that failed (a timeout, a lock) on a live connection raises at once."""
    calls = []

    def fails(retrying: bool) -> None:
        calls.append(retrying)
        connection.ensure_connection()
        raise OperationalError("canceling statement due to statement timeout")

    with pytest.raises(OperationalError):
        db_retry.retried(fails, what="test")
    assert calls == [False]


def test_the_default_rides_out_a_restart_of_a_few_seconds_and_is_bounded(settings):
    from exportsite.conf import export_settings

    assert 10 <= export_settings().db_retry_seconds <= 60


# --- the API while the database is unavailable --------------------------------------------------


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "error": {
            "status": 503,
            "message": "Service unavailable.",
            "payload": "The database is unavailable; try again in a few seconds.",
        }
    }
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_an_api_view_that_loses_the_database_answers_503_with_retry_after(reporter_client, campaign, monkeypatch):
    def unavailable(**_):
        raise OperationalError("connection to server failed: Connection refused")

    monkeypatch.setattr("exports.selectors.export_list", unavailable)
    assert_unavailable(reporter_client.get(f"/campaigns/{campaign.pk}/exports"))
    monkeypatch.undo()
    assert reporter_client.get(f"/campaigns/{campaign.pk}/exports").status_code == 200


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_api_and_admin_answer_503_while_the_database_refuses_connections_and_200_after(reporter, client):
    api = jwt_client(reporter)
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    with database_unreachable():
        assert_unavailable(api.get("/export-types"))  # the token's user is read from the database
        assert_unavailable(client.get("/admin/exports/export/"))  # not DRF: the middleware answers
    assert api.get("/export-types").status_code == 200
    assert client.get("/admin/exports/export/").status_code == 200
