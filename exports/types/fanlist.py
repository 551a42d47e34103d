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

from campaigns import selectors
from campaigns.models import Campaign
from exports.columns import Column, format_text, format_timestamp
from exports.types.base import CSV, ExportContext, ExportType

MARKET_SEPARATOR = "|"


class FanRecord(NamedTuple):
    entry: Any  # a named row of selectors.ENTRY_ROW_FIELDS
    markets: str  # market names, already joined

    @property
    def key(self) -> int:
        return self.entry.id


FANLIST_COLUMNS: tuple[Column, ...] = (
    Column("tm_id", lambda r: format_text(r.entry.fan__tm_id)),
    Column("member_id", lambda r: format_text(r.entry.fan__member_id)),
    Column("global_user_id", lambda r: format_text(r.entry.fan__global_user_id)),
    Column("email", lambda r: format_text(r.entry.email or r.entry.fan__email)),
    Column("first_name", lambda r: format_text(r.entry.fan__first_name or r.entry.first_name)),
    Column("last_name", lambda r: format_text(r.entry.fan__last_name or r.entry.last_name)),
    Column("phone", lambda r: format_text(r.entry.phone or r.entry.fan__phone)),
    Column("postal_code", lambda r: format_text(r.entry.fan__postal_code or r.entry.ip_postal_code)),
    Column("locale", lambda r: format_text(r.entry.locale)),
    Column("markets_entered", lambda r: format_text(r.markets)),
    Column("first_entry_date", lambda r: format_timestamp(r.entry.created_at)),
)


def markets_entered(primary_id: int, additional_ids: Sequence[int], names: dict[int, str]) -> str:
    ordered = dict.fromkeys([primary_id, *additional_ids])
    return MARKET_SEPARATOR.join(names[market_id] for market_id in ordered if market_id in names)


class FanlistExport(ExportType):
    key = "fanlist"
    label = "Fan list"
    description = "One row per fan who entered: ids, contact details, locale, markets entered, entry date."
    file_format = CSV

    def header_names(self) -> list[str]:
        return [column.header for column in FANLIST_COLUMNS]

    def snapshot(self, campaign: Campaign) -> dict:
        return {"max_entry_id": selectors.entry_max_id(campaign_id=campaign.pk)}

    def prepare(self, ctx: ExportContext) -> None:
        markets = selectors.campaign_markets(campaign_id=ctx.campaign.pk)
        ctx.cache["market_names"] = {market.pk: market.name for market in markets}

    def columns(self, ctx: ExportContext) -> Sequence[Column]:
        return FANLIST_COLUMNS

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
