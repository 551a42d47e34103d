"""`promoterEmailOptIn`: a ZIP with one CSV per promoter of the campaign, listing the fans who
opted in to that promoter (orig). 400 `Promoters not found.` when the campaign has none (orig).

Who is listed: entries of the campaign linked to the promoter (`Entry.promoter_opt_ins`) AND
with the general promoter opt-in `allow_promoter` (orig filtered on it too). Both are required:
a fan who withdrew the general consent is never handed to a promoter because of a stale link.

Members: `promoter_{promoterId}_{name}.csv` (name key-safe), in promoter id order, one for every
promoter of the campaign, header-only when nobody opted in. Rows in entry id order.
Columns (ours): email, first_name, last_name, postal_code, locale, market_name, promoter_name,
opted_in_at. Contact fallbacks as in `entries` (entry e-mail over the fan's, fan names over the
entry's, IP postal code over the fan's); `opted_in_at` is the entry's creation time, when the
opt-in was given.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from django.db.models import F

from campaigns import selectors
from campaigns.models import Campaign, Promoter
from exports import columns_sql as cs
from exports.columns import Column, format_text, format_timestamp
from exports.errors import ExportFailure, PromotersNotFound
from exports.types import sfmc
from exports.types.base import CSV, CopySource, ExportContext, ExportType, OutputFile, OutputShape, copy_cells
from exports.types.entries import entry_text_column

PROMOTER_HEADERS = (
    "email",
    "first_name",
    "last_name",
    "postal_code",
    "locale",
    "market_name",
    "promoter_name",
    "opted_in_at",
)


class PromoterOptInRecord(NamedTuple):
    entry: Any  # a named row of selectors.PROMOTER_OPT_IN_ROW_FIELDS
    market_name: str


def promoter_columns(promoter: Promoter, market_names: dict[int, str] | None = None) -> list[Column]:
    """The columns of one promoter's file; with `market_names` (formatted), their SQL twins too."""
    promoter_name = format_text(promoter.name)
    names = market_names or {}
    columns = [
        entry_text_column("email", "email", "fan__email"),
        entry_text_column("first_name", "fan__first_name", "first_name"),
        entry_text_column("last_name", "fan__last_name", "last_name"),
        entry_text_column("postal_code", "ip_postal_code", "fan__postal_code"),
        entry_text_column("locale", "locale"),
        Column(
            "market_name",
            lambda r: r.market_name,
            (lambda p: cs.sql_lookup(F("market_id"), names)) if market_names is not None else None,
        ),
        Column("promoter_name", lambda r: promoter_name, lambda p: cs.sql_const(promoter_name)),
        Column(
            "opted_in_at",
            lambda r: format_timestamp(r.entry.created_at),
            lambda p: cs.sql_timestamp(F(p + "created_at")),
        ),
    ]
    assert tuple(column.header for column in columns) == PROMOTER_HEADERS
    return columns


def promoter_member_name(promoter: Promoter) -> str:
    return f"promoter_{promoter.pk}_{sfmc.key_safe(promoter.name, fallback='promoter')}.csv"


class PromoterEmailOptInExport(ExportType):
    key = "promoterEmailOptIn"
    label = "Promoter e-mail opt-ins"
    description = "A ZIP with one CSV per promoter of the campaign, listing the fans who opted in to it."
    file_format = CSV
    output = OutputShape.ZIP
    require_allow_promoter = True

    def header_names(self) -> list[str]:
        return list(PROMOTER_HEADERS)

    def check_requestable(self, campaign: Campaign) -> None:
        if not selectors.campaign_has_promoters(campaign_id=campaign.pk):
            raise PromotersNotFound(campaign.pk)

    def snapshot(self, campaign: Campaign) -> dict:
        return {"max_entry_id": selectors.entry_max_id(campaign_id=campaign.pk)}

    def prepare(self, ctx: ExportContext) -> None:
        promoters = selectors.campaign_promoters(campaign_id=ctx.campaign.pk)
        if not promoters:
            raise ExportFailure(
                "This campaign has no promoters any more, so there is no promoter opt-in list to export.",
                f"Campaign {ctx.campaign.pk} has no promoters.",
            )
        ctx.cache["promoters"] = promoters
        markets = selectors.campaign_markets(campaign_id=ctx.campaign.pk)
        ctx.cache["market_names"] = {market.pk: format_text(market.name) for market in markets}

    def estimate(self, ctx: ExportContext) -> int:
        counts = selectors.promoter_opt_in_counts(
            campaign_id=ctx.campaign.pk,
            promoter_ids=[promoter.pk for promoter in ctx.cache["promoters"]],
            upper_id=ctx.snapshot["max_entry_id"],
            require_allow_promoter=self.require_allow_promoter,
        )
        return sum(counts.values())

    def columns(self, ctx: ExportContext) -> Sequence[Column]:
        return promoter_columns(ctx.cache["promoters"][0])

    def promoter_records(self, ctx: ExportContext, promoter: Promoter) -> Iterator[PromoterOptInRecord]:
        market_names: dict[int, str] = ctx.cache["market_names"]
        for page in selectors.promoter_opt_in_pages(
            campaign_id=ctx.campaign.pk,
            promoter_id=promoter.pk,
            upper_id=ctx.snapshot["max_entry_id"],
            page_size=ctx.page_size,
            require_allow_promoter=self.require_allow_promoter,
        ):
            for row in page:
                yield PromoterOptInRecord(row, market_names.get(row.market_id, ""))

    def promoter_copy(self, ctx: ExportContext, promoter: Promoter, columns: Sequence[Column]) -> CopySource:
        """The same rows for the fast path: the promoter's opted-in entries, formatted by the database."""
        campaign_id, upper_id = ctx.campaign.pk, ctx.snapshot["max_entry_id"]
        condition = selectors.promoter_opt_in_condition(
            promoter_id=promoter.pk, require_allow_promoter=self.require_allow_promoter
        )
        return CopySource(
            cells=lambda after_id, upper: copy_cells(
                selectors.entry_rows_queryset(
                    campaign_id=campaign_id, upper_id=upper, after_id=after_id, condition=condition, market_ids=None
                ),
                columns,
            ),
            boundary=lambda after_id, rows: selectors.entry_batch_boundary(
                campaign_id=campaign_id, after_id=after_id, upper_id=upper_id, rows=rows
            ),
        )

    def files(self, ctx: ExportContext) -> Iterator[OutputFile]:
        for promoter in ctx.cache["promoters"]:
            columns = promoter_columns(promoter, ctx.cache["market_names"])
            yield OutputFile(
                promoter_member_name(promoter),
                columns,
                self.promoter_records(ctx, promoter),
                copy=self.promoter_copy(ctx, promoter, columns),
            )
