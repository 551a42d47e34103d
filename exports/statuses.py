"""A job's status and why it ended: plain choices, importable before Django's apps are ready
(the worker's metrics middleware is loaded from settings), so they sit in the pure layer."""

from __future__ import annotations

from django.db import models


class ExportStatus(models.TextChoices):
    PENDING = "PENDING"
    TRIGGERED = "TRIGGERED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


ACTIVE_STATUSES = (ExportStatus.PENDING, ExportStatus.TRIGGERED)
FINAL_STATUSES = (ExportStatus.FINISHED, ExportStatus.FAILED, ExportStatus.EXPIRED, ExportStatus.CANCELLED)


class ExpiredReason(models.TextChoices):
    TIMEOUT = "timeout", "ran past its deadline"
    STAFF = "staff", "expired by staff"
    RETENTION = "retention", "file deleted by retention"


class FailureKind(models.TextChoices):
    DATA = "data", "data error (will not succeed on retry)"
    TRANSIENT = "transient", "transient error (database, storage or broker)"
    INTERNAL = "internal", "internal error"
