"""Shared machinery of the exports made of scoring records (`verifiedEntries`, `waitlist`):
records in id order, each with its fan's entry in the campaign (looked up per page) and its
market, and the cells whose values fall back between the entry and the fan (orig entry rules:
e-mail and phone take the entry's value, else the fan's; names take the fan's, else the entry's)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, NamedTuple

from django.db.models import Q

from campaigns import selectors
from campaigns.models import Campaign, Market
from exports.columns import Column, format_text
from exports.types.base import CSV, ExportContext, ExportType


class ScoredFanRecord(NamedTuple):
    scoring: Any  # a named row of selectors.SCORING_ROW_FIELDS
    entry: Any | None  # the fan's entry in the campaign (selectors.FAN_ENTRY_FIELDS), if any
    market: Market | None

    @property
    def key(self) -> int:
        return self.scoring.id


def entry_value(record: ScoredFanRecord, field: str) -> Any:
    """A field of the record's entry; None when the fan has no entry (or it was deleted meanwhile)."""
    return getattr(record.entry, field) if record.entry is not None else None


def email_cell(record: ScoredFanRecord) -> str:
    return format_text(entry_value(record, "email") or record.scoring.fan__email)


def phone_cell(record: ScoredFanRecord) -> str:
    return format_text(entry_value(record, "phone") or record.scoring.fan__phone)


def first_name_cell(record: ScoredFanRecord) -> str:
    return format_text(record.scoring.fan__first_name or entry_value(record, "first_name"))


def last_name_cell(record: ScoredFanRecord) -> str:
    return format_text(record.scoring.fan__last_name or entry_value(record, "last_name"))


def locale_cell(record: ScoredFanRecord) -> str:
    """The locale the fan was scored in; the entry's when the record has none."""
    return format_text(record.scoring.locale or entry_value(record, "locale"))


def market_name_cell(record: ScoredFanRecord) -> str:
    return format_text(record.market.name) if record.market is not None else ""


# The fan's ids, first in every scoring-record file.
FAN_ID_COLUMNS: tuple[Column, ...] = (
    Column("tm_id", lambda r: format_text(r.scoring.fan__tm_id)),
    Column("member_id", lambda r: format_text(r.scoring.fan__member_id)),
    Column("global_user_id", lambda r: format_text(r.scoring.fan__global_user_id)),
)


class ScoringRecordsExport(ExportType):
    """Base of the scoring-record exports; subclasses give the condition and the columns."""

    file_format = CSV
    record_columns: ClassVar[tuple[Column, ...]] = ()

    def scoring_condition(self) -> Q | None:
        return None

    def header_names(self) -> list[str]:
        return [column.header for column in self.record_columns]

    def snapshot(self, campaign: Campaign) -> dict:
        return {"max_scoring_id": selectors.scoring_max_id(campaign_id=campaign.pk)}

    def prepare(self, ctx: ExportContext) -> None:
        ctx.cache["markets_by_id"] = {
            market.pk: market for market in selectors.campaign_markets(campaign_id=ctx.campaign.pk)
        }

    def columns(self, ctx: ExportContext) -> Sequence[Column]:
        return self.record_columns

    def estimate(self, ctx: ExportContext) -> int:
        return selectors.scoring_count(
            campaign_id=ctx.campaign.pk, upper_id=ctx.snapshot["max_scoring_id"], condition=self.scoring_condition()
        )

    def records(self, ctx: ExportContext) -> Iterator[ScoredFanRecord]:
        markets: dict[int, Market] = ctx.cache["markets_by_id"]
        for page in selectors.scoring_pages(
            campaign_id=ctx.campaign.pk,
            upper_id=ctx.snapshot["max_scoring_id"],
            page_size=ctx.page_size,
            after_id=ctx.resume_after or 0,
            condition=self.scoring_condition(),
        ):
            entries = selectors.entries_by_fan(campaign_id=ctx.campaign.pk, fan_ids=[row.fan_id for row in page])
            for row in page:
                yield ScoredFanRecord(row, entries.get(row.fan_id), markets.get(row.market_id))
