"""`entries`: one row per entry in its primary market; with includeAllMarkets, one more row per
additional market (orig). Tab-separated `.tsv`. The entry-row logic here is shared by the types
that export entries under a filter (opt-ins, scoring)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from operator import attrgetter
from typing import Any, ClassVar, NamedTuple

from django.db.models import F, Q, Value

from campaigns import selectors
from campaigns.models import Campaign, Market
from exports import columns_sql as cs
from exports.columns import (
    Column,
    format_answer,
    format_bool,
    format_select_show,
    format_text,
    format_timestamp,
)
from exports.errors import ExportFailure
from exports.types.base import TSV, CopyQuery, ExportContext, ExportType, Parameter, parse_boolean_parameter


class MarketCells(NamedTuple):
    select_show: str
    event_ids: str


class EntryMarketRecord(NamedTuple):
    entry: Any  # a named row of selectors.ENTRY_ROW_FIELDS
    market: MarketCells

    @property
    def key(self) -> int:
        """Rows of one entry share its id, so a checkpoint never splits an entry's rows."""
        return self.entry.id


def market_cells(market: Market) -> MarketCells:
    event_ids = ",".join(str(event_id) for event_id in (market.event_ids or []))
    return MarketCells(
        select_show=format_select_show(market.event_date, market.city, market.state),
        event_ids=format_text(event_ids),
    )


def entry_text_column(header: str, field: str, fallback: str | None = None) -> Column:
    """A text cell of the entry row: `field`, else `fallback` when it is empty, formula-guarded.
    Row attributes carry the ORM paths' names (selectors.ENTRY_ROW_FIELDS), so one name gives
    both the Python value and its SQL twin, which therefore cannot drift apart."""
    first = attrgetter(field)
    if fallback is None:
        return Column(header, lambda r: format_text(first(r.entry)), lambda p: cs.sql_text(F(p + field)))
    second = attrgetter(fallback)
    return Column(
        header,
        lambda r: format_text(first(r.entry) or second(r.entry)),
        lambda p: cs.sql_first_text(F(p + field), F(p + fallback)),
    )


def entry_columns(
    campaign: Campaign, *, include_preferences: bool, markets: dict[int, MarketCells] | None = None
) -> list[Column]:
    """The orig entry columns, in the orig order, with the orig fallback rules. Each also says
    how to render it in SQL (exports.columns_sql) for the PostgreSQL COPY fast path; the market
    cells need `markets` for that."""
    title = format_text(campaign.name)
    campaign_id = str(campaign.pk)
    select_show = {pk: cells.select_show for pk, cells in (markets or {}).items()}
    event_ids = {pk: cells.event_ids for pk, cells in (markets or {}).items()}
    market_sql = markets is not None
    columns = [
        Column("id", lambda r: str(r.entry.id), lambda p: cs.sql_integer(F(p + "id"))),
        Column("contest_title", lambda r: title, lambda p: cs.sql_const(title)),
        Column(
            "entry_date",
            lambda r: format_timestamp(r.entry.created_at),
            lambda p: cs.sql_timestamp(F(p + "created_at")),
        ),
        entry_text_column("tm_id", "fan__tm_id"),
        entry_text_column("globalUserId", "fan__global_user_id"),
        entry_text_column("ip_address", "ip_address"),
        entry_text_column("email", "email", "fan__email"),
        entry_text_column("first_name", "fan__first_name", "first_name"),
        entry_text_column("last_name", "fan__last_name", "last_name"),
        entry_text_column("Zip Code", "ip_postal_code", "fan__postal_code"),
        entry_text_column("Mobile Phone", "phone", "fan__phone"),
        entry_text_column("Hbase_ID", "fan__member_id"),
        # The row's market is `market_id` both on Entry (primary) and on the additional-market
        # link rows, so these two need no prefix.
        Column(
            "Select Show",
            lambda r: r.market.select_show,
            (lambda p: cs.sql_lookup(F("market_id"), select_show)) if market_sql else None,
        ),
        Column(
            "Event_ID",
            lambda r: r.market.event_ids,
            (lambda p: cs.sql_lookup(F("market_id"), event_ids)) if market_sql else None,
        ),
        entry_text_column("locale", "locale"),
        Column("campaign_id", lambda r: campaign_id, lambda p: cs.sql_const(campaign_id)),
        Column(
            "Phone confirmed",
            lambda r: format_bool(r.entry.phone_confirmed_at is not None),
            lambda p: cs.sql_is_set(F(p + "phone_confirmed_at")),
        ),
    ]
    if include_preferences:
        columns.extend(preference_columns(campaign))
    return columns


def preference_columns(campaign: Campaign) -> list[Column]:
    """One `#{type}.{id}` column per campaign preference: the answer, default `false` (orig)."""
    columns = []
    for preference in campaign.preferences or []:
        pref_id = str(preference.get("id", ""))
        header = f"#{preference.get('type', '')}.{pref_id}"
        columns.append(Column(header, partial(_answer_cell, pref_id), partial(_answer_sql, pref_id)))
    return columns


def _answer_cell(pref_id: str, row: Any) -> str:
    return format_answer((row.entry.answers or {}).get(pref_id))


def _answer_sql(pref_id: str, prefix: str) -> Any:
    return cs.sql_answer(F(prefix + "answers"), pref_id)


class EntriesExport(ExportType):
    key = "entries"
    label = "Entries"
    description = "One row per entry in its primary market (optionally one per additional market)."
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            "includeAllMarkets",
            "boolean",
            False,
            "Also write one row per additional market the fan entered.",
            default=False,
        ),
    )
    file_format = TSV
    include_preferences = True
    # Subclasses narrow the entries (e.g. opt-ins) with a condition on Entry.
    entry_condition: Q | None = None
    # Subclasses that need more entry fields than the orig columns (e.g. scoring) widen this.
    entry_fields: tuple[str, ...] = selectors.ENTRY_ROW_FIELDS
    supports_all_markets = True
    supported_filters = ("marketIds", "createdFrom", "createdTo")

    def header_names(self) -> list[str]:
        headers = [column.header for column in entry_columns(Campaign(pk=0, name=""), include_preferences=False)]
        if self.include_preferences:
            headers.append("#{type}.{id} (one per campaign preference)")
        return headers

    def parse_parameters(self, body: dict) -> dict:
        if not self.supports_all_markets:
            return {}
        return {"includeAllMarkets": parse_boolean_parameter(body, "includeAllMarkets")}

    def snapshot(self, campaign: Campaign) -> dict:
        return {"max_entry_id": selectors.entry_max_id(campaign_id=campaign.pk)}

    def prepare(self, ctx: ExportContext) -> None:
        markets = selectors.campaign_markets(campaign_id=ctx.campaign.pk)
        if not markets:
            raise ExportFailure(
                "This campaign has no markets, so there is nothing to export entries against.",
                f"Campaign {ctx.campaign.pk} has no markets.",
            )
        ctx.cache["markets"] = {market.pk: market_cells(market) for market in markets}

    def columns(self, ctx: ExportContext) -> Sequence[Column]:
        return entry_columns(
            ctx.campaign, include_preferences=self.include_preferences, markets=ctx.cache.get("markets")
        )

    key_header = "id"
    has_copy_path = True

    def entry_filter(self, ctx: ExportContext) -> Q:
        """The type's own condition plus the request's time filters (not the market filter)."""
        condition = self.entry_condition if self.entry_condition is not None else Q()
        filters = ctx.parameters.get("filters") or {}
        if filters.get("createdFrom"):
            condition &= Q(created_at__gte=filters["createdFrom"])
        if filters.get("createdTo"):
            condition &= Q(created_at__lt=filters["createdTo"])
        return condition

    def condition(self, ctx: ExportContext) -> Q | None:
        """Which entries have at least one row: entry_filter plus the market filter."""
        condition = self.entry_filter(ctx)
        market_ids = (ctx.parameters.get("filters") or {}).get("marketIds")
        if market_ids:
            in_markets = Q(market_id__in=market_ids)
            if ctx.parameters.get("includeAllMarkets"):
                in_markets |= Q(pk__in=selectors.entry_ids_with_additional_market(market_ids=market_ids))
            condition &= in_markets
        return condition or None

    def copy_boundary(self, ctx: ExportContext, *, after_id: int, rows: int) -> int | None:
        """The id closing the next fast-path batch of about `rows` entries; None when done."""
        return selectors.entry_batch_boundary(
            campaign_id=ctx.campaign.pk, after_id=after_id, upper_id=ctx.snapshot["max_entry_id"], rows=rows
        )

    def copy_queryset(
        self, ctx: ExportContext, columns: Sequence[Column], *, after_id: int, upper_id: int
    ) -> CopyQuery:
        """PostgreSQL fast path: the same rows, formatted by the database (exports.columns_sql)."""
        names = [f"c{index}" for index in range(len(columns))]
        market_ids = (ctx.parameters.get("filters") or {}).get("marketIds")
        bounds = {"campaign_id": ctx.campaign.pk, "upper_id": upper_id, "after_id": after_id}
        primary = selectors.entry_rows_queryset(**bounds, condition=self.entry_filter(ctx), market_ids=market_ids)
        primary = primary.annotate(**{name: column.sql_for("") for name, column in zip(names, columns, strict=True)})
        if not ctx.parameters.get("includeAllMarkets"):
            return CopyQuery(primary.order_by("id").values_list(*names))
        extra = selectors.additional_market_rows_queryset(
            **bounds, condition=self.entry_filter(ctx), market_ids=market_ids
        )
        extra = extra.annotate(**{name: column.sql_for("entry__") for name, column in zip(names, columns, strict=True)})
        union = (
            primary.annotate(_k=F("id"), _s=Value(0))
            .values_list(*names, "_k", "_s")
            .union(extra.annotate(_k=F("entry_id"), _s=F("market_id")).values_list(*names, "_k", "_s"), all=True)
        )
        return CopyQuery(union, select=tuple(names), order_by=("_k", "_s"))

    def estimate(self, ctx: ExportContext) -> int:
        upper_id = ctx.snapshot["max_entry_id"]
        condition = self.condition(ctx)
        count = selectors.entry_count(campaign_id=ctx.campaign.pk, upper_id=upper_id, condition=condition)
        if ctx.parameters.get("includeAllMarkets"):
            count += selectors.additional_market_count(
                campaign_id=ctx.campaign.pk, upper_id=upper_id, condition=condition
            )
        return count

    def records(self, ctx: ExportContext) -> Iterator[EntryMarketRecord]:
        markets: dict[int, MarketCells] = ctx.cache["markets"]
        unknown = MarketCells("", "")
        all_markets = bool(ctx.parameters.get("includeAllMarkets"))
        wanted = set((ctx.parameters.get("filters") or {}).get("marketIds") or ())
        for page in selectors.entry_pages(
            campaign_id=ctx.campaign.pk,
            upper_id=ctx.snapshot["max_entry_id"],
            page_size=ctx.page_size,
            condition=self.condition(ctx),
            after_id=ctx.resume_after or 0,
            fields=self.entry_fields,
        ):
            extra = selectors.additional_market_ids(entry_ids=[row.id for row in page]) if all_markets else {}
            for row in page:
                if not wanted or row.market_id in wanted:
                    yield EntryMarketRecord(row, markets.get(row.market_id, unknown))
                for market_id in extra.get(row.id, ()):
                    if market_id != row.market_id and (not wanted or market_id in wanted):
                        yield EntryMarketRecord(row, markets.get(market_id, unknown))
