"""Reads for the reminder e-mail exports: selected scoring records with their market's code,
keyset-paged per group of markets, with bounded memory."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

from django.db.models import Count, Exists, F, FilteredRelation, OuterRef, Q, QuerySet

from campaigns.models import Entry, Market, ScoringRecord
from campaigns.selectors.paging import batch_boundary

_RECORD_FIELDS = (
    "id",
    "market_id",
    "fan_id",
    "locale",
    "fan__email",
    "fan__first_name",
    "fan__last_name",
    "fan__member_id",
)


class ReminderRow(NamedTuple):
    """One selected scoring record with the fan's contact data and the code for its market."""

    id: int
    market_id: int
    locale: str
    fan_email: str
    fan_first_name: str
    fan_last_name: str
    member_id: str
    # The fan's entry in the campaign (None when there is none).
    entry_email: str | None
    entry_first_name: str | None
    entry_last_name: str | None
    # The code whose market is the record's market (None when the fan has none).
    code: str | None


def _selected(*, campaign_id: int, upper_id: int):
    return ScoringRecord.objects.filter(campaign_id=campaign_id, selected=True, id__lte=upper_id)


def selected_market_counts_and_locales(*, campaign_id: int, upper_id: int) -> tuple[dict[int, int], list[str]]:
    """market id → number of selected scoring records (markets without any are absent), and the
    distinct locales of those records (a handful: each is mapped once in Python), from one scan."""
    rows = (
        _selected(campaign_id=campaign_id, upper_id=upper_id)
        .order_by()
        .values("market_id", "locale")
        .annotate(n=Count("id"))
        .values_list("market_id", "locale", "n")
    )
    counts: dict[int, int] = {}
    locales = set()
    for market_id, locale, n in rows:
        counts[market_id] = counts.get(market_id, 0) + n
        locales.add(locale)
    return counts, sorted(locales)


def markets_with_selected(*, campaign_id: int, upper_id: int) -> dict[int, Market]:
    """The campaign's markets with at least one selected record (id <= upper_id): one index probe
    per market, so a sample's plan never reads all of the campaign's records."""
    selected = _selected(campaign_id=campaign_id, upper_id=upper_id).filter(market_id=OuterRef("pk"))
    markets = Market.objects.filter(campaign_id=campaign_id).filter(Exists(selected))
    return {market.pk: market for market in markets}


def selected_first(
    *, campaign_id: int, market_ids: Sequence[int], upper_id: int, rows: int
) -> list[tuple[int, int, str]]:
    """(id, market id, locale) of the first `rows` selected records of those markets, in id order."""
    queryset = _selected(campaign_id=campaign_id, upper_id=upper_id).filter(market_id__in=market_ids)
    return list(queryset.order_by("id").values_list("id", "market_id", "locale")[:rows])


def _code_for_market():
    through = ScoringRecord.codes.through
    return through.objects.filter(scoringrecord_id=OuterRef("pk"), code__market_id=OuterRef("market_id"))


def selected_first_without_code(
    *, campaign_id: int, upper_id: int, market_ids: Sequence[int] | None = None, after_id: int = 0
) -> tuple[int, int] | None:
    """(scoring record id, market id) of the lowest selected record with no code for its market
    (of those markets, after `after_id`, when given)."""
    selected = _selected(campaign_id=campaign_id, upper_id=upper_id).filter(id__gt=after_id)
    if market_ids is not None:
        selected = selected.filter(market_id__in=market_ids)
    return selected.filter(~Exists(_code_for_market())).order_by("id").values_list("id", "market_id").first()


def _codes_for_market(record_ids: Sequence[int]) -> dict[int, str]:
    """record id → the value of its code for the record's market; with several, the newest (highest id)."""
    through = ScoringRecord.codes.through
    rows = (
        through.objects.filter(scoringrecord_id__in=record_ids, code__market_id=F("scoringrecord__market_id"))
        .order_by("scoringrecord_id", "code_id")
        .values_list("scoringrecord_id", "code__value")
    )
    return dict(rows)  # ascending code ids: the last (newest) value wins


def _entry_contacts(*, campaign_id: int, fan_ids: Sequence[int]) -> dict[int, tuple[str, str, str]]:
    rows = Entry.objects.filter(campaign_id=campaign_id, fan_id__in=fan_ids).values_list(
        "fan_id", "email", "first_name", "last_name"
    )
    return {fan_id: (email, first_name, last_name) for fan_id, email, first_name, last_name in rows}


def selected_reminder_pages(
    *,
    campaign_id: int,
    market_ids: Sequence[int],
    upper_id: int,
    page_size: int,
    limit: int | None = None,
    after_id: int = 0,
) -> Iterator[list[ReminderRow]]:
    """Selected scoring records of the given markets in id order, one page at a time, at most
    `limit` in all. Three short queries per page (records, codes, entries); no transaction is
    held open between pages."""
    last_id, remaining = after_id, limit
    while remaining is None or remaining > 0:
        size = page_size if remaining is None else min(page_size, remaining)
        records = list(
            _selected(campaign_id=campaign_id, upper_id=upper_id)
            .filter(market_id__in=market_ids, id__gt=last_id)
            .order_by("id")
            .values_list(*_RECORD_FIELDS, named=True)[:size]
        )
        if not records:
            return
        codes = _codes_for_market([record.id for record in records])
        contacts = _entry_contacts(campaign_id=campaign_id, fan_ids=[record.fan_id for record in records])
        page = []
        for record in records:
            entry: tuple[str | None, str | None, str | None] = contacts.get(record.fan_id, (None, None, None))
            page.append(
                ReminderRow(
                    record.id,
                    record.market_id,
                    record.locale,
                    record.fan__email,
                    record.fan__first_name,
                    record.fan__last_name,
                    record.fan__member_id,
                    *entry,
                    codes.get(record.id),
                )
            )
        yield page
        if len(records) < size:
            return
        last_id = records[-1].id
        if remaining is not None:
            remaining -= len(records)


def markets_by_id(*, market_ids: Sequence[int]) -> dict[int, Market]:
    return {market.pk: market for market in Market.objects.filter(pk__in=market_ids)}


# The fan's entry in the campaign, joined to each selected record (COPY fast path): its fields
# are `reminder_entry__<field>`, NULL without an entry.
REMINDER_ENTRY = "reminder_entry"


def selected_boundary(
    *, campaign_id: int, market_ids: Sequence[int], after_id: int, upper_id: int, rows: int
) -> int | None:
    """The id of the `rows`-th selected record of those markets after `after_id` (or `upper_id`
    when fewer are left); None when none is left. Bounds files and COPY batches alike."""
    queryset = _selected(campaign_id=campaign_id, upper_id=upper_id).filter(market_id__in=market_ids)
    return batch_boundary(queryset, after_id=after_id, upper_id=upper_id, rows=rows)


def codes_for_market() -> QuerySet:
    """For a selected record row (a subquery): its links to codes of the record's market, the
    newest code first (the one `_codes_for_market` picks); `code__value` is the code."""
    through = ScoringRecord.codes.through
    codes = through.objects.filter(scoringrecord_id=OuterRef("id"), code__market_id=OuterRef("market_id"))
    return codes.order_by("-code_id")


def selected_rows_queryset(*, campaign_id: int, market_ids: Sequence[int], after_id: int, upper_id: int) -> QuerySet:
    """Selected records of those markets with after_id < id <= upper_id, with the fan's entry
    joined as REMINDER_ENTRY, for one streamed query (the COPY fast path)."""
    entry = FilteredRelation("fan__entries", condition=Q(fan__entries__campaign_id=campaign_id))
    rows = _selected(campaign_id=campaign_id, upper_id=upper_id).filter(market_id__in=market_ids, id__gt=after_id)
    return rows.annotate(**{REMINDER_ENTRY: entry})
