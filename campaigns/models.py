"""Fan-registration campaign domain: the data exports are made of (PRODUCT §1)."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import models


class Promoter(models.Model):
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    name = models.CharField(max_length=255)
    artist_name = models.CharField(max_length=255, blank=True)
    tour_name = models.CharField(max_length=255, blank=True)
    is_fan_club = models.BooleanField(default=False)
    fan_club_name = models.CharField(max_length=255, blank=True)
    theme_color = models.CharField(max_length=16, blank=True, help_text="Hex colour, e.g. #1f6feb")
    is_lnaa = models.BooleanField(default=False, help_text="Live Nation variant: affects the SFMC region.")
    # Ordered registration questions: [{"id", "type", "is_optional", "label": {locale: text}}].
    preferences = models.JSONField(default=list, blank=True)
    promoters = models.ManyToManyField(Promoter, blank=True, related_name="campaigns")
    access_groups = models.ManyToManyField(
        Group,
        blank=True,
        related_name="campaigns",
        help_text="Members of these groups may work with this campaign's exports.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.pk})"


class Market(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="markets")
    name = models.CharField(max_length=255)
    city = models.CharField(max_length=120, blank=True)
    state = models.CharField(max_length=60, blank=True)
    country = models.CharField(max_length=2, default="US", help_text="ISO 3166 alpha-2; decides the SFMC region.")
    event_date = models.DateField(null=True, blank=True)
    event_ids = models.JSONField(default=list, blank=True)
    venue_name = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.pk})"


class Fan(models.Model):
    tm_id = models.CharField("Ticketmaster id", max_length=64, blank=True, db_index=True)
    member_id = models.CharField(max_length=64, blank=True)
    global_user_id = models.CharField(max_length=64, blank=True, db_index=True)
    email = models.CharField(max_length=320, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Fan {self.pk}"


class Entry(models.Model):
    """One fan's registration in one campaign; entry-level contact fields override the fan's."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="entries")
    fan = models.ForeignKey(Fan, on_delete=models.CASCADE, related_name="entries")
    # RESTRICT, not PROTECT: a market cannot be deleted while entries use it, but deleting the
    # whole campaign (entries and markets together) works.
    market = models.ForeignKey(Market, on_delete=models.RESTRICT, related_name="primary_entries")
    additional_markets = models.ManyToManyField(Market, blank=True, related_name="additional_entries")
    locale = models.CharField(max_length=16, default="en-us")
    created_at = models.DateTimeField()
    phone_confirmed_at = models.DateTimeField(null=True, blank=True)
    email = models.CharField(max_length=320, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    answers = models.JSONField(default=dict, blank=True, help_text="Preference id → answer.")
    allow_marketing = models.BooleanField(default=False, help_text="Artist opt-in.")
    allow_livenation = models.BooleanField(default=False)
    allow_promoter = models.BooleanField(default=False)
    allow_sms = models.BooleanField(default=False)
    promoter_opt_ins = models.ManyToManyField(Promoter, blank=True, related_name="opted_in_entries")
    ip_address = models.CharField(max_length=45, blank=True)
    ip_postal_code = models.CharField(max_length=20, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    fraud_score = models.FloatField(null=True, blank=True)
    score_band = models.CharField(max_length=20, blank=True)
    fan_score = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "entries"
        constraints = [models.UniqueConstraint(fields=["campaign", "fan"], name="entry_unique_campaign_fan")]
        # Keyset pagination for exports walks (campaign, id).
        indexes = [
            models.Index(fields=["campaign", "id"], name="entry_campaign_id_idx"),
            # createdFrom/createdTo filters.
            models.Index(fields=["campaign", "created_at"], name="entry_campaign_created_idx"),
        ]

    def __str__(self) -> str:
        return f"Entry {self.pk}"


class Code(models.Model):
    class Status(models.TextChoices):
        AVAILABLE = "available"
        RESERVED = "reserved"
        ASSIGNED = "assigned"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="codes")
    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="codes")
    value = models.CharField(max_length=64)
    date_key = models.CharField("wave", max_length=32, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AVAILABLE)
    assigned_fan = models.ForeignKey(Fan, null=True, blank=True, on_delete=models.SET_NULL, related_name="codes")
    assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["campaign", "value"], name="code_unique_campaign_value")]
        indexes = [
            models.Index(fields=["campaign", "id"], name="code_campaign_id_idx"),
            # codeWaves walks one wave of one campaign in id order.
            models.Index(fields=["campaign", "date_key", "id"], name="code_campaign_wave_idx"),
        ]

    def __str__(self) -> str:
        return self.value


class ScoringRecord(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="scoring_records")
    fan = models.ForeignKey(Fan, on_delete=models.CASCADE, related_name="scoring_records")
    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="scoring_records")
    score = models.FloatField(default=0)
    rank = models.PositiveIntegerField(null=True, blank=True)
    selected = models.BooleanField(default=False)
    locale = models.CharField(max_length=16, default="en-us")
    codes = models.ManyToManyField(Code, blank=True, related_name="scoring_records")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["campaign", "id"], name="scoring_campaign_id_idx"),
            # verifiedEntries / waitlist look up the fan's entry; reminder exports walk selected rows.
            models.Index(fields=["campaign", "fan"], name="scoring_campaign_fan_idx"),
            models.Index(fields=["campaign", "id"], name="scoring_selected_idx", condition=models.Q(selected=True)),
        ]

    def __str__(self) -> str:
        return f"Scoring {self.pk}"


class SmsWave(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="sms_waves")
    scheduled_at = models.DateTimeField(null=True, blank=True)
    fans = models.ManyToManyField(Fan, blank=True, related_name="sms_waves")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"SMS wave {self.pk}"
