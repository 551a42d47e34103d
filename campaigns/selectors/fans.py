"""Per-fan reads for exports that page over something else (codes, scoring records) and need
each fan's entry in the campaign: one query per page, via the unique (campaign, fan) index."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from campaigns.models import Entry

# The entry fields that override or complete a fan's data in fan-keyed rows.
FAN_ENTRY_FIELDS: tuple[str, ...] = (
    "id",
    "fan_id",
    "locale",
    "email",
    "phone",
    "first_name",
    "last_name",
    "fraud_score",
    "fan_score",
)


def entries_by_fan(*, campaign_id: int, fan_ids: Iterable[int], fields: Sequence[str] = FAN_ENTRY_FIELDS) -> dict:
    """fan id → that fan's entry in the campaign (a named row), for one page of fan ids."""
    wanted = {fan_id for fan_id in fan_ids if fan_id is not None}
    if not wanted:
        return {}
    rows = Entry.objects.filter(campaign_id=campaign_id, fan_id__in=wanted).values_list(*fields, named=True)
    return {row.fan_id: row for row in rows}
