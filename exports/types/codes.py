"""`codes`: one row per code of the campaign, in code id order: the code, its market, wave
(date_key), status, when it was assigned and the assigned fan's member id. `.csv`.

The code-row machinery here is shared by `codeWaves` (one wave) and `codeAssignments`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from django.db.models import Q

from campaigns import selectors
from campaigns.models import Campaign, Market
from exports.columns import Column, format_text, format_timestamp
from exports.types.base import CSV, ExportContext, ExportType


class CodeRecord(NamedTuple):
    code: Any  # a named row of selectors.CODE_ROW_FIELDS
    market: Market | None
    entry: Any | None  # the assigned fan's entry (selectors.FAN_ENTRY_FIELDS), when the type asks for it

    @property
    def key(self) -> int:
        return self.code.id


def market_name(record: CodeRecord) -> str:
    return format_text(record.market.name) if record.market is not None else ""


CODE_COLUMNS: tuple[Column, ...] = (
    Column("code", lambda r: format_text(r.code.value)),
    Column("market_id", lambda r: str(r.code.market_id)),
    Column("market_name", market_name),
    Column("wave", lambda r: format_text(r.code.date_key)),
    Column("status", lambda r: format_text(r.code.status)),
    Column("assigned_at", lambda r: format_timestamp(r.code.assigned_at)),
    Column("member_id", lambda r: format_text(r.code.assigned_fan__member_id)),
)


class CodesExport(ExportType):
    key = "codes"
    label = "Codes"
    description = "One row per code: code, market, wave, status, assignment time and member id."
    file_format = CSV
    # Subclasses that need the assigned fan's entry (its e-mail overrides the fan's) set this.
    with_entries = False

    def code_columns(self) -> Sequence[Column]:
        return CODE_COLUMNS

    def code_condition(self, parameters: dict) -> Q | None:
        """Narrows the campaign's codes; None for all of them."""
        return None

    def header_names(self) -> list[str]:
        return [column.header for column in self.code_columns()]

    def snapshot(self, campaign: Campaign) -> dict:
        return {"max_code_id": selectors.code_max_id(campaign_id=campaign.pk)}

    def prepare(self, ctx: ExportContext) -> None:
        ctx.cache["markets_by_id"] = {
            market.pk: market for market in selectors.campaign_markets(campaign_id=ctx.campaign.pk)
        }

    def columns(self, ctx: ExportContext) -> Sequence[Column]:
        return self.code_columns()

    def estimate(self, ctx: ExportContext) -> int:
        return selectors.code_count(
            campaign_id=ctx.campaign.pk,
            upper_id=ctx.snapshot["max_code_id"],
            condition=self.code_condition(ctx.parameters),
        )

    def records(self, ctx: ExportContext) -> Iterator[CodeRecord]:
        markets: dict[int, Market] = ctx.cache["markets_by_id"]
        for page in selectors.code_pages(
            campaign_id=ctx.campaign.pk,
            upper_id=ctx.snapshot["max_code_id"],
            page_size=ctx.page_size,
            after_id=ctx.resume_after or 0,
            condition=self.code_condition(ctx.parameters),
        ):
            entries = (
                selectors.entries_by_fan(campaign_id=ctx.campaign.pk, fan_ids=[row.assigned_fan_id for row in page])
                if self.with_entries
                else {}
            )
            for row in page:
                yield CodeRecord(row, markets.get(row.market_id), entries.get(row.assigned_fan_id))
