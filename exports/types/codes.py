"""`codes`: one row per code of the campaign, in code id order: the code, its market, wave
(date_key), status, when it was assigned and the assigned fan's member id. `.csv`.

The code-row machinery here is shared by `codeWaves` (one wave) and `codeAssignments`. Every
column has its SQL twin (exports.columns_sql), so on PostgreSQL the rows are formatted by the
database and streamed with COPY; the file does not start with the key (the code id), so the
fast path cuts it only at batch ends."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from django.db.models import F, Q

from campaigns import selectors
from campaigns.models import Campaign, Market
from exports import columns_sql as cs
from exports.columns import Column, format_text, format_timestamp
from exports.types.base import CSV, CopyQuery, ExportContext, ExportType, copy_cells


class CodeRecord(NamedTuple):
    code: Any  # a named row of selectors.CODE_ROW_FIELDS
    market: Market | None
    entry: Any | None  # the assigned fan's entry (selectors.FAN_ENTRY_FIELDS), when the type asks for it

    @property
    def key(self) -> int:
        return self.code.id


def market_name(record: CodeRecord) -> str:
    return format_text(record.market.name) if record.market is not None else ""


def code_text_column(header: str, field: str) -> Column:
    """A formula-guarded text cell of the code row; `field` is an ORM path of
    selectors.CODE_ROW_FIELDS, so the Python value and its SQL twin read the same field."""
    return Column(header, lambda r: format_text(getattr(r.code, field)), lambda p: cs.sql_text(F(field)))


def market_lookup(header: str, cell, markets: dict[int, Market] | None) -> Column:
    """A cell of the code's market: `cell(market)` in Python, and for the fast path the same
    cells formatted once per market and looked up by id (no twin without `markets`)."""
    cells = {pk: cell(market) for pk, market in (markets or {}).items()}
    return Column(
        header,
        lambda r: cell(r.market) if r.market is not None else "",
        (lambda p: cs.sql_lookup(F("market_id"), cells)) if markets is not None else None,
    )


def code_columns(markets: dict[int, Market] | None = None) -> list[Column]:
    return [
        code_text_column("code", "value"),
        Column("market_id", lambda r: str(r.code.market_id), lambda p: cs.sql_integer(F("market_id"))),
        market_lookup("market_name", lambda market: format_text(market.name), markets),
        code_text_column("wave", "date_key"),
        code_text_column("status", "status"),
        Column(
            "assigned_at", lambda r: format_timestamp(r.code.assigned_at), lambda p: cs.sql_timestamp(F("assigned_at"))
        ),
        code_text_column("member_id", "assigned_fan__member_id"),
    ]


class CodesExport(ExportType):
    key = "codes"
    label = "Codes"
    description = "One row per code: code, market, wave, status, assignment time and member id."
    file_format = CSV
    # Subclasses that need the assigned fan's entry (its e-mail overrides the fan's) set this.
    with_entries = False
    has_copy_path = True

    def code_columns(self, ctx: ExportContext | None = None) -> Sequence[Column]:
        """The columns; with `ctx` (a run), their SQL twins are complete."""
        return code_columns(ctx.cache["markets_by_id"] if ctx is not None else None)

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
        return self.code_columns(ctx)

    def copy_boundary(self, ctx: ExportContext, *, after_id: int, rows: int) -> int | None:
        return selectors.code_batch_boundary(
            campaign_id=ctx.campaign.pk,
            after_id=after_id,
            upper_id=ctx.snapshot["max_code_id"],
            condition=self.code_condition(ctx.parameters),
            rows=rows,
        )

    def copy_queryset(
        self, ctx: ExportContext, columns: Sequence[Column], *, after_id: int, upper_id: int
    ) -> CopyQuery:
        condition = self.code_condition(ctx.parameters)
        rows = selectors.code_rows_queryset(
            campaign_id=ctx.campaign.pk, after_id=after_id, upper_id=upper_id, condition=condition
        )
        return copy_cells(rows, columns)

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
