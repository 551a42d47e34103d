"""Every Export status change, as compare-and-set updates.

`UPDATE … WHERE id = ? AND status IN (…)` succeeds for exactly one caller, so two workers (or a
worker and a staff member) can never both win a transition. No select_for_update is needed,
which keeps this portable across SQLite, PostgreSQL and non-SQL backends.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from exports.models import ExpiredReason, Export, ExportStatus, FailureKind

S = ExportStatus

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.TRIGGERED, S.CANCELLED, S.EXPIRED}),
    S.TRIGGERED: frozenset({S.FINISHED, S.FAILED, S.CANCELLED, S.EXPIRED}),
    S.FINISHED: frozenset({S.EXPIRED}),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}


class IllegalTransition(ValueError):
    pass


def _transition(export_id: uuid.UUID | str, *, from_statuses: tuple[str, ...], to: str, **fields) -> bool:
    for old in from_statuses:
        if to not in ALLOWED_TRANSITIONS[old]:
            raise IllegalTransition(f"{old} → {to} is not a legal export transition")
    updated = Export.objects.filter(pk=export_id, status__in=from_statuses).update(status=to, **fields)
    return updated == 1


def claim(export_id: uuid.UUID | str, *, time_limit: timedelta) -> bool:
    """PENDING → TRIGGERED; False when someone else claimed it or it is no longer pending."""
    now = timezone.now()
    return _transition(
        export_id,
        from_statuses=(S.PENDING,),
        to=S.TRIGGERED,
        triggered_at=now,
        heartbeat_at=now,
        deadline_at=now + time_limit,
        attempts=F("attempts") + 1,
        rows_written=0,
        bytes_written=0,
    )


def record_upload_started(
    export_id: uuid.UUID | str, *, storage_alias: str, storage_key: str, upload_id: str, row_estimate: int
) -> bool:
    return (
        Export.objects.filter(pk=export_id, status=S.TRIGGERED).update(
            storage_alias=storage_alias,
            storage_key=storage_key,
            upload_id=upload_id,
            row_count=row_estimate,
            heartbeat_at=timezone.now(),
        )
        == 1
    )


def record_progress(export_id: uuid.UUID | str, *, rows_written: int, bytes_written: int) -> bool:
    """Heartbeat + progress; False means the job is no longer TRIGGERED (cancelled or expired)."""
    return (
        Export.objects.filter(pk=export_id, status=S.TRIGGERED).update(
            rows_written=rows_written,
            bytes_written=bytes_written,
            heartbeat_at=timezone.now(),
        )
        == 1
    )


def record_checkpoint(export_id: uuid.UUID | str, *, checkpoint: dict) -> bool:
    """Save the resume point after an uploaded part; False when the job is no longer TRIGGERED."""
    return (
        Export.objects.filter(pk=export_id, status=S.TRIGGERED).update(
            checkpoint=checkpoint, heartbeat_at=timezone.now()
        )
        == 1
    )


def finish(
    export_id: uuid.UUID | str,
    *,
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
        finished_at=timezone.now(),
        row_count=row_count,
        rows_written=row_count,
        bytes_written=bytes_written,
        sha256=sha256,
        storage_keys=storage_keys,
        upload_id="",
        checkpoint={},
        file_expires_at=file_expires_at,
        error_message="",
        error_payload="",
        failure_kind="",
    )


def fail(export_id: uuid.UUID | str, *, message: str, payload: str, kind: FailureKind) -> bool:
    return _transition(
        export_id,
        from_statuses=(S.TRIGGERED,),
        to=S.FAILED,
        failed_at=timezone.now(),
        error_message=message,
        error_payload=payload,
        failure_kind=kind,
        upload_id="",
        storage_key="",
        storage_keys=[],
        checkpoint={},
    )


def cancel(export_id: uuid.UUID | str) -> bool:
    return _transition(export_id, from_statuses=(S.PENDING, S.TRIGGERED), to=S.CANCELLED, cancelled_at=timezone.now())


def expire(
    export_id: uuid.UUID | str, *, reason: ExpiredReason, from_statuses: tuple[str, ...], message: str = ""
) -> bool:
    fields: dict = {"expired_at": timezone.now(), "expired_reason": reason}
    if message:
        fields["error_message"] = message
    return _transition(export_id, from_statuses=from_statuses, to=S.EXPIRED, **fields)


def clear_upload(export_id: uuid.UUID | str) -> None:
    """Forget the storage location once its partial upload has been aborted."""
    Export.objects.filter(pk=export_id).exclude(status=S.FINISHED).update(upload_id="", storage_key="", storage_keys=[])
