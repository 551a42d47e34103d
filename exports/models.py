"""The Export job (PRODUCT §3). Status changes happen only in exports/states.py."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from campaigns.models import Campaign
from exports.statuses import ACTIVE_STATUSES, ExpiredReason, ExportStatus, FailureKind

__all__ = ["ACTIVE_STATUSES", "ExpiredReason", "Export", "ExportEvent", "ExportStatus", "FailureKind", "PeriodicTask"]


class Export(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="exports")
    export_type = models.CharField(max_length=40, db_index=True)
    parameters = models.JSONField(default=dict, blank=True)
    # sha256 of the canonical JSON of `parameters`: the dedupe key's third part.
    parameters_digest = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=ExportStatus.choices, default=ExportStatus.PENDING)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="exports"
    )
    correlation_id = models.CharField(max_length=100, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    expired_reason = models.CharField(max_length=12, choices=ExpiredReason.choices, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)

    storage_alias = models.CharField(max_length=40, blank=True)
    storage_key = models.CharField(max_length=1024, blank=True)
    storage_keys = models.JSONField(default=list, blank=True)
    upload_id = models.CharField(max_length=1024, blank=True)

    row_count = models.BigIntegerField(null=True, blank=True, help_text="Estimate while running; exact when finished.")
    rows_written = models.BigIntegerField(default=0)
    bytes_written = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True)
    error_payload = models.TextField(blank=True)
    failure_kind = models.CharField(max_length=12, choices=FailureKind.choices, blank=True)
    file_expires_at = models.DateTimeField(null=True, blank=True)
    # Fixed when the job starts (e.g. the highest row id), so a long or resumed run never
    # mixes in rows created after it began.
    snapshot = models.JSONField(default=dict, blank=True)
    # Progress of the current upload at its last part boundary (resume point): parts with
    # ETags, rows, bytes and the key of the last row written.
    checkpoint = models.JSONField(default=dict, blank=True)
    webhook_url = models.URLField(max_length=2000, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one active job per (campaign, type, parameters); the database enforces it
            # so it holds across API processes. Partial unique indexes work on SQLite and PostgreSQL.
            models.UniqueConstraint(
                fields=["campaign", "export_type", "parameters_digest"],
                condition=Q(status__in=list(ACTIVE_STATUSES)),
                name="export_one_active_per_parameters",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "-created_at"], name="export_campaign_created_idx"),
            models.Index(fields=["status"], name="export_status_idx"),
        ]
        permissions = [
            ("request_export", "Can request and read exports (orig REPORT)"),
            ("download_export", "Can download export files"),
            ("retry_export", "Can retry exports"),
            ("cancel_export", "Can cancel exports"),
            ("expire_export", "Can expire exports"),
            ("ccpa_delete", "Can delete a fan's exports under CCPA"),
        ]

    def __str__(self) -> str:
        return f"{self.export_type} export {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class ExportEvent(models.Model):
    """Audit trail: who did what to which export, and when. Kept when the export is deleted."""

    class Action(models.TextChoices):
        REQUESTED = "requested"
        DOWNLOADED = "downloaded"
        RETRIED = "retried"
        CANCELLED = "cancelled"
        EXPIRED = "expired"
        CCPA_DELETED = "ccpa_deleted"

    export = models.ForeignKey(Export, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    export_ref = models.CharField(max_length=64, blank=True, help_text="The export id, kept after deletion.")
    campaign_id = models.BigIntegerField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="export_events"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.action} {self.export_ref} by {self.actor_id} at {self.at:%Y-%m-%d %H:%M}"


class PeriodicTask(models.Model):
    """When each periodic maintenance task was last sent: a compare-and-set lease, so many
    worker processes ticking at once still send each task once per interval."""

    name = models.CharField(max_length=60, primary_key=True)
    last_sent_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} (last sent {self.last_sent_at:%Y-%m-%d %H:%M:%S})"
