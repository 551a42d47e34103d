"""The rows of the reminder e-mail exports (reminderEmail, reminderEmailSample,
autoReminderEmail): SFMC columns, the per-region plan, and splitting a stream into files.
Pure apart from the selector reads of the two plans (`reminder_plan`, `reminder_sample_plan`)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, NamedTuple

from django.db.models import F, Subquery

from campaigns import selectors
from campaigns.models import Campaign, Market
from exports import columns_sql as cs
from exports.columns import Column, format_text
from exports.errors import BadRequest, ExportFailure
from exports.types import sfmc
from exports.types.base import OutputFile

REMINDER_HEADERS = (
    "email",
    "first_name",
    "last_name",
    "locale",
    "member_id",
    "artist_name",
    "campaign_id",
    "campaign_name",
    "market_id",
    "market_name",
    "city",
    "state",
    "country",
    "event_date",
    "venue_name",
    "code",
    "mid",
    "region",
)


def parse_int_parameter(body: dict, name: str, *, default: int, minimum: int, maximum: int) -> int:
    """An integer request parameter in [minimum, maximum]; absent or null gives the default."""
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise BadRequest(
            f"Invalid '{name}' value: expected a whole number from {minimum} to {maximum}, got {value!r}.",
            f"The '{name}' value must be a whole number from {minimum} to {maximum}.",
        )
    return value


class ReminderMarket(NamedTuple):
    """The cells of one market, formatted once per export."""

    id: str
    name: str
    city: str
    state: str
    country: str
    event_date: str
    venue_name: str
    mid: str
    region: str


class ReminderRecord(NamedTuple):
    row: selectors.ReminderRow
    market: ReminderMarket


@dataclass(frozen=True)
class RegionPlan:
    region: sfmc.SfmcRegion
    market_ids: tuple[int, ...]
    rows: int
    # A sample's region ends at its last sampled record (None: at the snapshot's upper bound).
    last_id: int | None = None


@dataclass(frozen=True)
class ReminderPlan:
    artist_name: str
    markets: dict[int, ReminderMarket]
    regions: tuple[RegionPlan, ...]
    locales: list[str]  # of the selected records


def reminder_columns(
    campaign: Campaign,
    *,
    artist_name: str,
    markets: dict[int, ReminderMarket] | None = None,
    locales: Sequence[str] | None = None,
) -> list[Column]:
    """The SFMC columns. With the plan's `markets` and the records' `locales` (a run), each has
    its SQL twin too: per-market cells and mapped locales are formatted here once and looked up
    by the database; the rows come from selectors.selected_rows_queryset."""
    campaign_id, campaign_name, artist = str(campaign.pk), format_text(campaign.name), format_text(artist_name)
    entry = selectors.REMINDER_ENTRY

    def first_text(first: str, second: str):
        return lambda p: cs.sql_first_text(F(first), F(second))

    def market_cell(name: str):
        if markets is None:
            return None
        cells = {pk: getattr(market, name) for pk, market in markets.items()}
        return lambda p: cs.sql_lookup(F("market_id"), cells)

    locale_sql = None
    if locales is not None:
        mapped = {locale: format_text(sfmc.sfmc_locale(locale)) for locale in locales}
        locale_sql = lambda p: cs.sql_lookup(F("locale"), mapped)  # noqa: E731
    # The code is formatted inside its subquery, which the guard then reads once per row.
    code = Subquery(selectors.codes_for_market().annotate(cell=cs.sql_text(F("code__value"))).values("cell")[:1])
    columns = [
        Column(
            "email",
            lambda r: format_text(r.row.entry_email or r.row.fan_email),
            first_text(f"{entry}__email", "fan__email"),
        ),
        Column(
            "first_name",
            lambda r: format_text(r.row.fan_first_name or r.row.entry_first_name),
            first_text("fan__first_name", f"{entry}__first_name"),
        ),
        Column(
            "last_name",
            lambda r: format_text(r.row.fan_last_name or r.row.entry_last_name),
            first_text("fan__last_name", f"{entry}__last_name"),
        ),
        Column("locale", lambda r: format_text(sfmc.sfmc_locale(r.row.locale)), locale_sql),
        Column("member_id", lambda r: format_text(r.row.member_id), lambda p: cs.sql_text(F("fan__member_id"))),
        Column("artist_name", lambda r: artist, lambda p: cs.sql_const(artist)),
        Column("campaign_id", lambda r: campaign_id, lambda p: cs.sql_const(campaign_id)),
        Column("campaign_name", lambda r: campaign_name, lambda p: cs.sql_const(campaign_name)),
        *(
            Column(header, attrgetter(f"market.{field}"), market_cell(field))
            for header, field in (
                ("market_id", "id"),
                ("market_name", "name"),
                ("city", "city"),
                ("state", "state"),
                ("country", "country"),
                ("event_date", "event_date"),
                ("venue_name", "venue_name"),
            )
        ),
        Column("code", lambda r: format_text(r.row.code), lambda p: code),
        Column("mid", attrgetter("market.mid"), market_cell("mid")),
        Column("region", attrgetter("market.region"), market_cell("region")),
    ]
    assert tuple(column.header for column in columns) == REMINDER_HEADERS
    return columns


def reminder_market(market: Market, *, is_lnaa: bool) -> ReminderMarket:
    """Raises ExportFailure when the market's country has no SFMC business unit."""
    try:
        region = sfmc.sfmc_region(market.country, is_lnaa=is_lnaa)
        mid = sfmc.sfmc_row_mid(market.country, is_lnaa=is_lnaa)
    except sfmc.SfmcCountryUnknown as exc:
        raise ExportFailure(
            f"Market {market.pk} ({market.name}) is in country '{exc.country}', which has no Salesforce "
            "Marketing Cloud account configured, so its selected fans cannot be sent reminder e-mails. "
            "Correct the market's country or ask for the country to be added.",
            f"Market {market.pk} country {exc.country!r} maps to no SFMC business unit.",
        ) from exc
    return ReminderMarket(
        id=str(market.pk),
        name=format_text(market.name),
        city=format_text(market.city),
        state=format_text(market.state),
        country=format_text(sfmc.normalize_country(market.country)),
        event_date=market.event_date.isoformat() if market.event_date else "",
        venue_name=format_text(market.venue_name),
        mid=mid,
        region=region.code,
    )


def missing_code_failure(record_id: int, market_id: int) -> ExportFailure:
    return ExportFailure(
        f"The fan of scoring record {record_id} is selected but has no code for market {market_id}. "
        "Assign a code to every selected fan (or unselect the fan), then request the export again.",
        f"ScoringRecord {record_id} has no code with market {market_id}.",
    )


def reminder_plan(campaign: Campaign, *, upper_id: int) -> ReminderPlan:
    """The markets with selected fans, grouped by SFMC region (alphabetical), with row counts."""
    counts, locales = selectors.selected_market_counts_and_locales(campaign_id=campaign.pk, upper_id=upper_id)
    cells, groups = _regions(campaign, selectors.markets_by_id(market_ids=list(counts)))
    regions = tuple(
        RegionPlan(region=region, market_ids=ids, rows=sum(counts[pk] for pk in ids)) for region, ids in groups
    )
    return ReminderPlan(artist_name=_artist_name(campaign), markets=cells, regions=regions, locales=locales)


def reminder_sample_plan(campaign: Campaign, *, upper_id: int, sample_size: int) -> ReminderPlan:
    """The plan of a sample: the same regions, each cut to its first `sample_size` records. Only
    those records are read (the markets by one probe each, then each region's first records), so
    a sample of a big campaign costs what its own rows cost."""
    cells, groups = _regions(campaign, selectors.markets_with_selected(campaign_id=campaign.pk, upper_id=upper_id))
    regions: list[RegionPlan] = []
    locales: set[str] = set()
    for region, ids in groups:
        first = selectors.selected_first(campaign_id=campaign.pk, market_ids=ids, upper_id=upper_id, rows=sample_size)
        if first:  # (none: unselected since the probe)
            locales.update(locale for _, _, locale in first)
            regions.append(RegionPlan(region=region, market_ids=ids, rows=len(first), last_id=first[-1][0]))
    return ReminderPlan(
        artist_name=_artist_name(campaign), markets=cells, regions=tuple(regions), locales=sorted(locales)
    )


def _regions(
    campaign: Campaign, markets: dict[int, Market]
) -> tuple[dict[int, ReminderMarket], list[tuple[sfmc.SfmcRegion, tuple[int, ...]]]]:
    """Each market's cells, and the markets grouped by SFMC region (alphabetical, ids ascending)."""
    cells = {pk: reminder_market(markets[pk], is_lnaa=campaign.is_lnaa) for pk in sorted(markets)}
    grouped: dict[str, list[int]] = {}
    for pk, market in cells.items():
        grouped.setdefault(market.region, []).append(pk)
    return cells, [
        (sfmc.sfmc_region(markets[ids[0]].country, is_lnaa=campaign.is_lnaa), tuple(ids))
        for _, ids in sorted(grouped.items())
    ]


def _artist_name(campaign: Campaign) -> str:
    return sfmc.sfmc_artist_name(
        artist_name=campaign.artist_name, is_fan_club=campaign.is_fan_club, fan_club_name=campaign.fan_club_name
    )


def split_files(records: Iterable[Any], *, columns: Sequence[Column], max_rows: int, name_for) -> Iterator[OutputFile]:
    """Consecutive files of at most `max_rows` records each, named `name_for(1)`, `name_for(2)`…
    Lazy: a file's records are drawn from the shared stream while the pipeline writes it."""
    iterator = iter(records)
    for part in itertools.count(1):
        first = next(iterator, None)
        if first is None:
            return
        yield OutputFile(name_for(part), columns, itertools.chain((first,), itertools.islice(iterator, max_rows - 1)))
