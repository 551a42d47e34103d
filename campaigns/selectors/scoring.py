"""Scoring-record reads for exports: keyset-paged by record id within a campaign
(index scoring_campaign_id_idx). Conditions are database expressions, so exclusions such as the
waitlist's scheduled SMS waves never load fan lists into Python."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from django.db.models import Exists, FilteredRelation, Max, OuterRef, Q, QuerySet

from campaigns.models import Entry, ScoringRecord, SmsWave
from campaigns.selectors.entries import ENTRY_ROW_FIELDS
from campaigns.selectors.paging import batch_boundary, keyset_pages

# Entry fields of the `scoring` export: the entry row plus the fraud/geo/fan-score fields.
ENTRY_SCORING_FIELDS: tuple[str, ...] = (
    *ENTRY_ROW_FIELDS,
    "latitude",
    "longitude",
    "fraud_score",
    "score_band",
    "fan_score",
)

# Everything a scoring-record row needs, with the fan's ids and contact fields.
SCORING_ROW_FIELDS: tuple[str, ...] = (
    "id",
    "campaign_id",
    "fan_id",
    "market_id",
    "score",
    "rank",
    "selected",
    "locale",
    "fan__tm_id",
    "fan__member_id",
    "fan__global_user_id",
    "fan__email",
    "fan__phone",
    "fan__first_name",
    "fan__last_name",
)


def scoring_condition_has_entry() -> Q:
    """Records whose fan has an entry in the record's campaign."""
    return Q(Exists(Entry.objects.filter(campaign_id=OuterRef("campaign_id"), fan_id=OuterRef("fan_id"))))


def scoring_condition_waitlist() -> Q:
    """Unselected records of fans who are in none of the campaign's scheduled SMS waves (orig)."""
    in_scheduled_wave = SmsWave.fans.through.objects.filter(
        smswave__campaign_id=OuterRef("campaign_id"),
        smswave__scheduled_at__isnull=False,
        fan_id=OuterRef("fan_id"),
    )
    return Q(selected=False) & Q(~Exists(in_scheduled_wave))


def scoring_max_id(*, campaign_id: int) -> int:
    return ScoringRecord.objects.filter(campaign_id=campaign_id).aggregate(top=Max("id"))["top"] or 0


def _scoring_records(*, campaign_id: int, upper_id: int, condition: Q | None):
    queryset = ScoringRecord.objects.filter(campaign_id=campaign_id, id__lte=upper_id)
    return queryset.filter(condition) if condition is not None else queryset


def scoring_count(*, campaign_id: int, upper_id: int, condition: Q | None = None) -> int:
    return _scoring_records(campaign_id=campaign_id, upper_id=upper_id, condition=condition).count()


def scoring_pages(
    *,
    campaign_id: int,
    upper_id: int,
    page_size: int,
    after_id: int = 0,
    condition: Q | None = None,
    fields: Sequence[str] = SCORING_ROW_FIELDS,
) -> Iterator[list]:
    """Scoring records of a campaign (id ≤ upper_id, matching `condition`) in id order, a page at a time."""
    queryset = _scoring_records(campaign_id=campaign_id, upper_id=upper_id, condition=condition)
    return keyset_pages(queryset, fields=fields, page_size=page_size, after_id=after_id)


# The fan's entry in the campaign, joined to each scoring record (at most one: entries are
# unique per campaign and fan); its fields are `fan_entry__<field>` (NULL without an entry).
FAN_ENTRY = "fan_entry"


def scoring_batch_boundary(*, campaign_id: int, after_id: int, upper_id: int, rows: int) -> int | None:
    """The id closing the next COPY batch of `rows` records, matching a type's condition or not
    (an index-only walk, as entry_batch_boundary); None when none is left."""
    queryset = _scoring_records(campaign_id=campaign_id, upper_id=upper_id, condition=None)
    return batch_boundary(queryset, after_id=after_id, upper_id=upper_id, rows=rows)


def scoring_rows_queryset(*, campaign_id: int, after_id: int, upper_id: int, condition: Q | None) -> QuerySet:
    """Records with after_id < id <= upper_id and the fan's entry as FAN_ENTRY (a LEFT JOIN on
    the unique (campaign, fan) index), for one streamed query (the COPY fast path)."""
    queryset = _scoring_records(campaign_id=campaign_id, upper_id=upper_id, condition=condition)
    entry = FilteredRelation("fan__entries", condition=Q(fan__entries__campaign_id=campaign_id))
    return queryset.filter(id__gt=after_id).annotate(**{FAN_ENTRY: entry})
