"""`fanlist`: one row per fan who entered the campaign (entries are unique per campaign and
fan, so one per entry), in entry id order: Ticketmaster ids, e-mail, names, phone, postal
code, locale, markets entered and the (first, only) entry date. `.csv`.

Column rules: e-mail and phone take the entry's value, else the fan's; names take the fan's,
else the entry's (as in entries). The postal code is the fan's own, else the entry's IP postal
code (a contact list wants the address the fan gave; entries prefer the IP's, orig). `markets_entered`
lists the names of the primary market first, then the additional markets in id order, without
repeats, joined with `|` (market names contain commas, never bars in practice); the formula
guard applies to the cell as a whole."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from django.db.models import F, Q

from campaigns import selectors
from campaigns.models import Campaign
from exports import columns_sql as cs
from exports.columns import Column, format_text, format_timestamp
from exports.types.base import CSV, CopyQuery, ExportContext, ExportType, copy_cells
from exports.types.entries import entry_text_column

MARKET_SEPARATOR = "|"


class FanRecord(NamedTuple):
    entry: Any  # a named row of selectors.ENTRY_ROW_FIELDS
    markets: str  # market names, already joined

    @property
    def key(self) -> int:
        return self.entry.id


def fanlist_columns(campaign_id: int = 0, market_names: dict[int, str] | None = None) -> list[Column]:
    """The columns; with `market_names` (a run), the SQL twin of `markets_entered` too: its
    primary market's name from a table formatted in Python, the additional ones aggregated by
    the database (selectors.additional_market_names)."""
    markets_sql = None
    if market_names is not None:
        names = market_names
        extra = selectors.additional_market_names(campaign_id=campaign_id, separator=MARKET_SEPARATOR)
        markets_sql = lambda p: cs.sql_list_after(names, F("market_id"), MARKET_SEPARATOR, extra)  # noqa: E731
    return [
        entry_text_column("tm_id", "fan__tm_id"),
        entry_text_column("member_id", "fan__member_id"),
        entry_text_column("global_user_id", "fan__global_user_id"),
        entry_text_column("email", "email", "fan__email"),
        entry_text_column("first_name", "fan__first_name", "first_name"),
        entry_text_column("last_name", "fan__last_name", "last_name"),
        entry_text_column("phone", "phone", "fan__phone"),
        entry_text_column("postal_code", "fan__postal_code", "ip_postal_code"),
        entry_text_column("locale", "locale"),
        Column("markets_entered", lambda r: format_text(r.markets), markets_sql),
        Column(
            "first_entry_date",
            lambda r: format_timestamp(r.entry.created_at),
            lambda p: cs.sql_timestamp(F(p + "created_at")),
        ),
    ]


def markets_entered(primary_id: int, additional_ids: Sequence[int], names: dict[int, str]) -> str:
    ordered = dict.fromkeys([primary_id, *additional_ids])
    return MARKET_SEPARATOR.join(names[market_id] for market_id in ordered if market_id in names)


class FanlistExport(ExportType):
    key = "fanlist"
    label = "Fan list"
    description = "One row per fan who entered: ids, contact details, locale, markets entered, entry date."
    file_format = CSV
    has_copy_path = True

    def header_names(self) -> list[str]:
        return [column.header for column in fanlist_columns()]

    def snapshot(self, campaign: Campaign) -> dict:
        return {"max_entry_id": selectors.entry_max_id(campaign_id=campaign.pk)}

    def prepare(self, ctx: ExportContext) -> None:
        markets = selectors.campaign_markets(campaign_id=ctx.campaign.pk)
        ctx.cache["market_names"] = {market.pk: market.name for market in markets}

    def columns(self, ctx: ExportContext) -> Sequence[Column]:
        return fanlist_columns(ctx.campaign.pk, ctx.cache["market_names"])

    def estimate(self, ctx: ExportContext) -> int:
        return selectors.entry_count(campaign_id=ctx.campaign.pk, upper_id=ctx.snapshot["max_entry_id"])

    def records(self, ctx: ExportContext) -> Iterator[FanRecord]:
        names: dict[int, str] = ctx.cache["market_names"]
        for page in selectors.entry_pages(
            campaign_id=ctx.campaign.pk,
            upper_id=ctx.snapshot["max_entry_id"],
            page_size=ctx.page_size,
            after_id=ctx.resume_after or 0,
        ):
            extra = selectors.additional_market_ids(entry_ids=[row.id for row in page])
            for row in page:
                yield FanRecord(row, markets_entered(row.market_id, extra.get(row.id, ()), names))

    def copy_boundary(self, ctx: ExportContext, *, after_id: int, rows: int) -> int | None:
        return selectors.entry_batch_boundary(
            campaign_id=ctx.campaign.pk, after_id=after_id, upper_id=ctx.snapshot["max_entry_id"], rows=rows
        )

    def copy_queryset(
        self, ctx: ExportContext, columns: Sequence[Column], *, after_id: int, upper_id: int
    ) -> CopyQuery:
        entries = selectors.entry_rows_queryset(
            campaign_id=ctx.campaign.pk, upper_id=upper_id, after_id=after_id, condition=Q(), market_ids=None
        )
        return copy_cells(entries, columns)
