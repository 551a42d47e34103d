"""Shared machinery of the exports made of scoring records (`verifiedEntries`, `waitlist`):
records in id order, each with its fan's entry in the campaign (looked up per page) and its
market, and the cells whose values fall back between the entry and the fan (orig entry rules:
e-mail and phone take the entry's value, else the fan's; names take the fan's, else the entry's)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from django.db.models import F, Q

from campaigns import selectors
from campaigns.models import Campaign, Market
from exports import columns_sql as cs
from exports.columns import Column, format_number, format_text
from exports.types.base import CSV, CopyQuery, ExportContext, ExportType, copy_cells


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


# The SQL twins read the record's fields by their ORM paths (selectors.SCORING_ROW_FIELDS) and
# the entry's as `fan_entry__<field>` (selectors.scoring_rows_queryset joins it).
def _entry(field: str) -> F:
    return F(f"{selectors.FAN_ENTRY}__{field}")


def fan_text_column(header: str, field: str) -> Column:
    """A formula-guarded text cell of the record row (a field of selectors.SCORING_ROW_FIELDS)."""
    return Column(header, lambda r: format_text(getattr(r.scoring, field)), lambda p: cs.sql_text(F(field)))


def entry_first_column(header: str, field: str, fan_field: str) -> Column:
    """The entry's `field`, else the fan's (e-mail and phone, orig entry rules)."""
    return Column(
        header,
        lambda r: format_text(entry_value(r, field) or getattr(r.scoring, fan_field)),
        lambda p: cs.sql_first_text(_entry(field), F(fan_field)),
    )


def fan_first_column(header: str, fan_field: str, field: str) -> Column:
    """The fan's (or the record's) `fan_field`, else the entry's `field` (names; the locale)."""
    return Column(
        header,
        lambda r: format_text(getattr(r.scoring, fan_field) or entry_value(r, field)),
        lambda p: cs.sql_first_text(F(fan_field), _entry(field)),
    )


def entry_number_column(header: str, field: str) -> Column:
    return Column(header, lambda r: format_number(entry_value(r, field)), lambda p: cs.sql_number(_entry(field)))


def market_columns(markets: dict[int, Market] | None) -> list[Column]:
    """The record's market id and name (the names formatted once per market for the fast path;
    no twin for the name without `markets`)."""
    names = {pk: format_text(market.name) for pk, market in (markets or {}).items()}
    return [
        Column("market_id", lambda r: str(r.scoring.market_id), lambda p: cs.sql_integer(F("market_id"))),
        Column(
            "market_name",
            lambda r: format_text(r.market.name) if r.market is not None else "",
            (lambda p: cs.sql_lookup(F("market_id"), names)) if markets is not None else None,
        ),
    ]


# The fan's ids, first in every scoring-record file.
FAN_ID_COLUMNS: tuple[Column, ...] = (
    fan_text_column("tm_id", "fan__tm_id"),
    fan_text_column("member_id", "fan__member_id"),
    fan_text_column("global_user_id", "fan__global_user_id"),
)
EMAIL = entry_first_column("email", "email", "fan__email")
PHONE = entry_first_column("phone", "phone", "fan__phone")
FIRST_NAME = fan_first_column("first_name", "fan__first_name", "first_name")
LAST_NAME = fan_first_column("last_name", "fan__last_name", "last_name")
# The locale the fan was scored in; the entry's when the record has none.
LOCALE = fan_first_column("locale", "locale", "locale")
SCORE = Column("score", lambda r: format_number(r.scoring.score), lambda p: cs.sql_number(F("score")))
RANK = Column("rank", lambda r: format_number(r.scoring.rank), lambda p: cs.sql_integer(F("rank")))


class ScoringRecordsExport(ExportType):
    """Base of the scoring-record exports; subclasses give the condition and the columns. Every
    column has its SQL twin, so on PostgreSQL the rows are formatted by the database and
    streamed with COPY (cut at batch ends: the file does not start with the record id)."""

    file_format = CSV
    has_copy_path = True

    def scoring_condition(self) -> Q | None:
        return None

    def record_columns(self, markets: dict[int, Market] | None) -> list[Column]:
        """The file's columns; with `markets` (a run), their SQL twins are complete."""
        raise NotImplementedError

    def header_names(self) -> list[str]:
        return [column.header for column in self.record_columns(None)]

    def snapshot(self, campaign: Campaign) -> dict:
        return {"max_scoring_id": selectors.scoring_max_id(campaign_id=campaign.pk)}

    def prepare(self, ctx: ExportContext) -> None:
        ctx.cache["markets_by_id"] = {
            market.pk: market for market in selectors.campaign_markets(campaign_id=ctx.campaign.pk)
        }

    def columns(self, ctx: ExportContext) -> Sequence[Column]:
        return self.record_columns(ctx.cache["markets_by_id"])

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

    def copy_boundary(self, ctx: ExportContext, *, after_id: int, rows: int) -> int | None:
        # Counting only matches would run the (NOT) EXISTS of every record twice.
        return selectors.scoring_batch_boundary(
            campaign_id=ctx.campaign.pk, after_id=after_id, upper_id=ctx.snapshot["max_scoring_id"], rows=rows
        )

    def copy_queryset(
        self, ctx: ExportContext, columns: Sequence[Column], *, after_id: int, upper_id: int
    ) -> CopyQuery:
        rows = selectors.scoring_rows_queryset(
            campaign_id=ctx.campaign.pk, after_id=after_id, upper_id=upper_id, condition=self.scoring_condition()
        )
        return copy_cells(rows, columns)
