"""Code reads for exports: keyset-paged by code id within a campaign (index code_campaign_id_idx)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from django.db.models import FilteredRelation, Max, Q, QuerySet

from campaigns.models import Code
from campaigns.selectors.paging import batch_boundary, keyset_pages

# Everything a code row needs, with the assigned fan's ids, in one joined query per page.
CODE_ROW_FIELDS: tuple[str, ...] = (
    "id",
    "campaign_id",
    "market_id",
    "value",
    "date_key",
    "status",
    "assigned_at",
    "assigned_fan_id",
    "assigned_fan__member_id",
    "assigned_fan__global_user_id",
    "assigned_fan__email",
)


def code_condition_assigned() -> Q:
    """Codes that have been assigned to a fan (status `assigned`)."""
    return Q(status=Code.Status.ASSIGNED)


def code_condition_wave(*, date_key: str) -> Q:
    """Codes of one wave (`date_key`)."""
    return Q(date_key=date_key)


def code_max_id(*, campaign_id: int) -> int:
    return Code.objects.filter(campaign_id=campaign_id).aggregate(top=Max("id"))["top"] or 0


def _codes(*, campaign_id: int, upper_id: int, condition: Q | None):
    queryset = Code.objects.filter(campaign_id=campaign_id, id__lte=upper_id)
    return queryset.filter(condition) if condition is not None else queryset


def code_count(*, campaign_id: int, upper_id: int, condition: Q | None = None) -> int:
    return _codes(campaign_id=campaign_id, upper_id=upper_id, condition=condition).count()


def code_pages(
    *,
    campaign_id: int,
    upper_id: int,
    page_size: int,
    after_id: int = 0,
    condition: Q | None = None,
    fields: Sequence[str] = CODE_ROW_FIELDS,
) -> Iterator[list]:
    """Codes of a campaign (id ≤ upper_id, matching `condition`) in id order, a page at a time."""
    queryset = _codes(campaign_id=campaign_id, upper_id=upper_id, condition=condition)
    return keyset_pages(queryset, fields=fields, page_size=page_size, after_id=after_id)


def code_batch_boundary(
    *, campaign_id: int, after_id: int, upper_id: int, condition: Q | None, rows: int
) -> int | None:
    """The id closing the next COPY batch of about `rows` codes; None when none is left."""
    queryset = _codes(campaign_id=campaign_id, upper_id=upper_id, condition=condition)
    return batch_boundary(queryset, after_id=after_id, upper_id=upper_id, rows=rows)


# The assigned fan's entry in the campaign, joined to each code row (code_rows_queryset): its
# fields are `fan_entry__<field>`, NULL without an entry.
CODE_FAN_ENTRY = "fan_entry"


def code_rows_queryset(*, campaign_id: int, after_id: int, upper_id: int, condition: Q | None) -> QuerySet:
    """Codes with after_id < id <= upper_id and the assigned fan's entry as CODE_FAN_ENTRY (a LEFT
    JOIN on the unique (campaign, fan) index), for one streamed query (the COPY fast path)."""
    entry = FilteredRelation("assigned_fan__entries", condition=Q(assigned_fan__entries__campaign_id=campaign_id))
    rows = _codes(campaign_id=campaign_id, upper_id=upper_id, condition=condition).filter(id__gt=after_id)
    return rows.annotate(**{CODE_FAN_ENTRY: entry})
