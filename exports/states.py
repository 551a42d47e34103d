"""Every Export status change, as compare-and-set updates.

`UPDATE … WHERE id = ? AND status IN (…)` succeeds for exactly one caller, so two workers (or a
worker and a staff member) can never both win a transition. No select_for_update is needed,
which keeps this portable across SQLite, PostgreSQL and non-SQL backends.

Worker-side updates also match the attempt number they claimed (`attempt=`): it fences off a
worker that was presumed dead and replaced, so it can no longer move or touch the job.

Every update here rides out a lost database connection (exports/db_retry.py): being
compare-and-set, a repeated update cannot move a job twice, and a transition whose first try
was committed with only its reply lost is recognised by the values it wrote (`_landed`).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from exports import db_retry
from exports.models import ExpiredReason, Export, ExportStatus, FailureKind

S = ExportStatus
ExportId = uuid.UUID | str

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.TRIGGERED, S.CANCELLED, S.EXPIRED}),
    # TRIGGERED → PENDING: a retry after a transient error or a dead worker (keeps the checkpoint).
    S.TRIGGERED: frozenset({S.FINISHED, S.FAILED, S.CANCELLED, S.EXPIRED, S.PENDING}),
    S.FINISHED: frozenset({S.EXPIRED}),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}


class IllegalTransition(ValueError):
    pass


def _job(export_id: ExportId, *, statuses: tuple[str, ...], attempt: int | None = None) -> QuerySet[Export]:
    queryset = Export.objects.filter(pk=export_id, status__in=statuses)
    return queryset if attempt is None else queryset.filter(attempts=attempt)


def _transition(
    export_id: ExportId, *, from_statuses: tuple[str, ...], to: str, attempt: int | None = None, **fields
) -> bool:
    for old in from_statuses:
        if to not in ALLOWED_TRANSITIONS[old]:
            raise IllegalTransition(f"{old} → {to} is not a legal export transition")

    def update(retrying: bool) -> bool:
        if _job(export_id, statuses=from_statuses, attempt=attempt).update(status=to, **fields) == 1:
            return True
        # A retry that matches nothing: the first try may have been committed, its reply lost.
        # Answering False then would disown our own move (e.g. delete a finished file).
        return retrying and _landed(export_id, to=to, attempt=attempt, fields=fields)

    return db_retry.retried(update, what=f"export to {to}")


def _landed(export_id: ExportId, *, to: str, attempt: int | None, fields: dict) -> bool:
    """The job is in `to` with the plain values this transition wrote (its timestamp or its
    messages), so it was this transition's earlier try, not someone else's, that moved it."""
    written = {
        name: value
        for name, value in fields.items()
        if isinstance(value, str | int | datetime) and not isinstance(value, bool)
    }
    return _job(export_id, statuses=(to,), attempt=attempt).filter(**written).exists()


def _record(export_id: ExportId, *, attempt: int, **fields) -> bool:
    """Update this attempt's running job, as a heartbeat; False when it is no longer this worker's."""
    running = _job(export_id, statuses=(S.TRIGGERED,), attempt=attempt)
    return db_retry.retried(lambda _: running.update(heartbeat_at=timezone.now(), **fields) == 1, what="export record")


def _error_fields(*, message: str = "", payload: str = "", kind: FailureKind | str = "") -> dict[str, str]:
    """What a job says about its last error: set by a retry or a failure, blank once finished."""
    return {"error_message": message, "error_payload": payload, "failure_kind": kind}


def claim(export_id: ExportId, *, time_limit: timedelta) -> bool:
    """PENDING → TRIGGERED; False when someone else claimed it or it is no longer pending.

    The deadline is fixed by the first claim and kept by retries: it bounds the whole job."""
    now = timezone.now()
    return _transition(
        export_id,
        from_statuses=(S.PENDING,),
        to=S.TRIGGERED,
        triggered_at=now,
        heartbeat_at=now,
        deadline_at=Coalesce(F("deadline_at"), Value(now + time_limit)),
        attempts=F("attempts") + 1,
    )


def requeue(export_id: ExportId, *, message: str, payload: str, kind: FailureKind, attempt: int | None) -> bool:
    """TRIGGERED → PENDING for another attempt; the checkpoint stays so the next run resumes."""
    return _transition(
        export_id,
        from_statuses=(S.TRIGGERED,),
        to=S.PENDING,
        attempt=attempt,
        enqueued_at=None,
        **_error_fields(message=message, payload=payload, kind=kind),
    )


def record_enqueued(export_id: ExportId, *, at: datetime | None = None) -> None:
    pending = Export.objects.filter(pk=export_id, status=S.PENDING)
    db_retry.retried(lambda _: pending.update(enqueued_at=at or timezone.now()), what="export enqueued")


def record_upload_started(
    export_id: ExportId,
    *,
    attempt: int,
    storage_alias: str,
    storage_key: str,
    upload_id: str,
    row_estimate: int,
    checkpoint: dict | None = None,
) -> bool:
    """Where this attempt writes; `checkpoint` replaces the job's (an upload announced before it starts)."""
    extra = {} if checkpoint is None else {"checkpoint": checkpoint}
    return _record(
        export_id,
        attempt=attempt,
        storage_alias=storage_alias,
        storage_key=storage_key,
        upload_id=upload_id,
        row_count=row_estimate,
        **extra,
    )


def record_progress(export_id: ExportId, *, attempt: int, rows_written: int, bytes_written: int) -> bool:
    """Heartbeat + progress; False means the job is no longer this worker's (cancelled, expired
    or handed to another attempt)."""
    return _record(export_id, attempt=attempt, rows_written=rows_written, bytes_written=bytes_written)


def record_heartbeats(attempts: list[tuple[ExportId, int]]) -> int:
    """The liveness beat (engine/liveness.py): the heartbeat of each (job, attempt) still
    running that attempt, in one UPDATE; how many matched. Not retried: the next beat is."""
    fenced = Q()
    for export_id, attempt in attempts:
        fenced |= Q(pk=export_id, attempts=attempt)
    return Export.objects.filter(fenced, status=ExportStatus.TRIGGERED).update(heartbeat_at=timezone.now())


def record_checkpoint(export_id: ExportId, *, attempt: int, checkpoint: dict) -> bool:
    """Save the resume point after an uploaded part; False when the job is no longer this worker's."""
    return _record(export_id, attempt=attempt, checkpoint=checkpoint)


def finish(
    export_id: ExportId,
    *,
    attempt: int | None,
    row_count: int,
    bytes_written: int,
    sha256: str,
    storage_keys: list[str],
    file_expires_at: datetime | None,
) -> bool:
    return _transition(
        export_id,
        from_statuses=(S.TRIGGERED,),
        to=S.FINISHED,
        attempt=attempt,
        finished_at=timezone.now(),
        row_count=row_count,
        rows_written=row_count,
        bytes_written=bytes_written,
        sha256=sha256,
        storage_keys=storage_keys,
        upload_id="",
        checkpoint={},
        file_expires_at=file_expires_at,
        **_error_fields(),
    )


def fail(export_id: ExportId, *, message: str, payload: str, kind: FailureKind, attempt: int | None = None) -> bool:
    return _transition(
        export_id,
        from_statuses=(S.TRIGGERED,),
        to=S.FAILED,
        attempt=attempt,
        failed_at=timezone.now(),
        **_error_fields(message=message, payload=payload, kind=kind),
        # The storage record (upload id, keys, checkpoint) stays until what it names has been
        # removed (clear_upload): a clean-up that fails is tried again by the reconciler.
    )


def cancel(export_id: ExportId) -> bool:
    return _transition(export_id, from_statuses=(S.PENDING, S.TRIGGERED), to=S.CANCELLED, cancelled_at=timezone.now())


def expire(
    export_id: ExportId,
    *,
    reason: ExpiredReason,
    from_statuses: tuple[str, ...],
    message: str = "",
    attempt: int | None = None,
) -> bool:
    fields: dict = {"expired_at": timezone.now(), "expired_reason": reason}
    if message:
        fields["error_message"] = message
    return _transition(export_id, from_statuses=from_statuses, to=S.EXPIRED, attempt=attempt, **fields)


def clear_upload(export_id: ExportId) -> None:
    """Forget the storage location once its partial upload has been aborted."""
    ended = Export.objects.filter(pk=export_id).exclude(status__in=(S.FINISHED, S.PENDING, S.TRIGGERED))
    db_retry.retried(
        lambda _: ended.update(upload_id="", storage_key="", storage_keys=[], checkpoint={}), what="export clear upload"
    )


def clear_upload_of_active(export_id: ExportId, *, attempt: int) -> None:
    """A fresh start after a checkpoint that cannot be resumed."""
    running = _job(export_id, statuses=(S.TRIGGERED,), attempt=attempt)
    db_retry.retried(lambda _: running.update(upload_id="", storage_key="", checkpoint={}), what="export clear upload")
