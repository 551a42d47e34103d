"""Entry reads for exports: keyset-paged iterators with bounded memory."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from django.contrib.postgres.aggregates import StringAgg
from django.db.models import F, Max, OuterRef, Q, QuerySet, Subquery

from campaigns.models import Entry, Market
from campaigns.selectors.paging import batch_boundary, keyset_pages

# Everything an entry-shaped row needs, fetched in one joined query per page.
ENTRY_ROW_FIELDS: tuple[str, ...] = (
    "id",
    "created_at",
    "market_id",
    "locale",
    "phone_confirmed_at",
    "answers",
    "ip_address",
    "ip_postal_code",
    "email",
    "phone",
    "first_name",
    "last_name",
    "fan_id",
    "fan__tm_id",
    "fan__global_user_id",
    "fan__member_id",
    "fan__email",
    "fan__phone",
    "fan__postal_code",
    "fan__first_name",
    "fan__last_name",
)


def campaign_markets(*, campaign_id: int) -> list[Market]:
    return list(Market.objects.filter(campaign_id=campaign_id).order_by("id"))


def entry_max_id(*, campaign_id: int) -> int:
    return Entry.objects.filter(campaign_id=campaign_id).aggregate(top=Max("id"))["top"] or 0


def _entries(*, campaign_id: int, upper_id: int, condition: Q | None) -> QuerySet[Entry]:
    queryset = Entry.objects.filter(campaign_id=campaign_id, id__lte=upper_id)
    return queryset.filter(condition) if condition is not None else queryset


def entry_count(*, campaign_id: int, upper_id: int, condition: Q | None = None) -> int:
    return _entries(campaign_id=campaign_id, upper_id=upper_id, condition=condition).count()


def additional_market_count(*, campaign_id: int, upper_id: int, condition: Q | None = None) -> int:
    through = Entry.additional_markets.through
    # An entry's own primary market listed again as "additional" gives no extra row.
    queryset = through.objects.filter(entry__campaign_id=campaign_id, entry_id__lte=upper_id).exclude(
        market_id=F("entry__market_id")
    )
    if condition is not None:
        queryset = queryset.filter(**{"entry__in": Entry.objects.filter(condition).values("id")})
    return queryset.count()


def entry_pages(
    *,
    campaign_id: int,
    upper_id: int,
    page_size: int,
    after_id: int = 0,
    condition: Q | None = None,
    fields: Sequence[str] = ENTRY_ROW_FIELDS,
) -> Iterator[list]:
    """Entries of a campaign (id ≤ upper_id, matching `condition`) in id order, a page at a time.

    Keyset paging keeps each query short and index-driven, holds no transaction open between
    pages, and works on every Django backend."""
    queryset = _entries(campaign_id=campaign_id, upper_id=upper_id, condition=condition)
    return keyset_pages(queryset, fields=fields, page_size=page_size, after_id=after_id)


def additional_market_ids(*, entry_ids: Sequence[int]) -> dict[int, list[int]]:
    """entry id → its additional market ids (ascending), for one page of entries."""
    through = Entry.additional_markets.through
    result: dict[int, list[int]] = defaultdict(list)
    rows = through.objects.filter(entry_id__in=entry_ids).order_by("entry_id", "market_id")
    for entry_id, market_id in rows.values_list("entry_id", "market_id"):
        result[entry_id].append(market_id)
    return result


def additional_market_names(*, campaign_id: int, separator: str) -> Subquery:
    """For an entry row: the names of its additional markets of the campaign (its own market
    left out) in market id order, joined with `separator`; NULL when it has none. One
    aggregate per entry, on the (entry, market) index of the link table (COPY fast path)."""
    through = Entry.additional_markets.through
    links = (
        through.objects.filter(entry_id=OuterRef("id"), market__campaign_id=campaign_id)
        .exclude(market_id=OuterRef("market_id"))
        .order_by()
        .values("entry_id")
        .annotate(names=StringAgg("market__name", delimiter=separator, order_by="market_id"))
        .values("names")  # type: ignore[misc]  # the stubs do not see the annotation
    )
    return Subquery(links)


def entry_ids_with_additional_market(*, market_ids: Sequence[int]) -> QuerySet:
    """Subquery: ids of entries that list one of these markets as an additional market."""
    through = Entry.additional_markets.through
    return through.objects.filter(market_id__in=market_ids).values("entry_id")


def entry_rows_queryset(
    *, campaign_id: int, upper_id: int, after_id: int, condition: Q, market_ids: Sequence[int] | None
) -> QuerySet:
    """Entries in their primary market, for a single streamed query (the COPY fast path)."""
    queryset = Entry.objects.filter(condition, campaign_id=campaign_id, id__gt=after_id, id__lte=upper_id)
    return queryset.filter(market_id__in=market_ids) if market_ids else queryset


def additional_market_rows_queryset(
    *, campaign_id: int, upper_id: int, after_id: int, condition: Q, market_ids: Sequence[int] | None
) -> QuerySet:
    """Entry ↔ additional market links (one row each), the entry's own market excluded."""
    through = Entry.additional_markets.through
    queryset = through.objects.filter(
        entry__campaign_id=campaign_id, entry_id__gt=after_id, entry_id__lte=upper_id
    ).exclude(market_id=F("entry__market_id"))
    if condition:
        queryset = queryset.filter(entry__in=Entry.objects.filter(condition).values("pk"))
    return queryset.filter(market_id__in=market_ids) if market_ids else queryset


def entry_batch_boundary(*, campaign_id: int, after_id: int, upper_id: int, rows: int) -> int | None:
    """The id of the campaign's `rows`-th entry after `after_id` (or `upper_id` when fewer are
    left); None when none is left. An index-only walk of (campaign, id).

    It counts entries, not the ones a type's condition keeps: counting those would read every
    entry (and, for some conditions, its fan) twice, once here and once in the batch. A batch of
    a filtered type so holds at most `rows` rows."""
    queryset = _entries(campaign_id=campaign_id, upper_id=upper_id, condition=None)
    return batch_boundary(queryset, after_id=after_id, upper_id=upper_id, rows=rows)
