"""The rows of the reminder e-mail exports (reminderEmail, reminderEmailSample,
autoReminderEmail): SFMC columns, the per-region plan, and splitting a stream into files.
Pure apart from the two selector reads in `reminder_plan`."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from campaigns import selectors
from campaigns.models import Campaign, Market
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


@dataclass(frozen=True)
class ReminderPlan:
    artist_name: str
    markets: dict[int, ReminderMarket]
    regions: tuple[RegionPlan, ...]


def reminder_columns(campaign: Campaign, *, artist_name: str) -> list[Column]:
    campaign_id, campaign_name, artist = str(campaign.pk), format_text(campaign.name), format_text(artist_name)
    cells: dict[str, Any] = {
        "email": lambda r: format_text(r.row.entry_email or r.row.fan_email),
        "first_name": lambda r: format_text(r.row.fan_first_name or r.row.entry_first_name),
        "last_name": lambda r: format_text(r.row.fan_last_name or r.row.entry_last_name),
        "locale": lambda r: format_text(sfmc.sfmc_locale(r.row.locale)),
        "member_id": lambda r: format_text(r.row.member_id),
        "artist_name": lambda r: artist,
        "campaign_id": lambda r: campaign_id,
        "campaign_name": lambda r: campaign_name,
        "market_id": lambda r: r.market.id,
        "market_name": lambda r: r.market.name,
        "city": lambda r: r.market.city,
        "state": lambda r: r.market.state,
        "country": lambda r: r.market.country,
        "event_date": lambda r: r.market.event_date,
        "venue_name": lambda r: r.market.venue_name,
        "code": lambda r: format_text(r.row.code),
        "mid": lambda r: r.market.mid,
        "region": lambda r: r.market.region,
    }
    return [Column(header, cells[header]) for header in REMINDER_HEADERS]


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
    counts = selectors.selected_counts_by_market(campaign_id=campaign.pk, upper_id=upper_id)
    markets = selectors.markets_by_id(market_ids=list(counts))
    cells = {pk: reminder_market(markets[pk], is_lnaa=campaign.is_lnaa) for pk in sorted(counts)}
    grouped: dict[str, list[int]] = {}
    for pk, market in cells.items():
        grouped.setdefault(market.region, []).append(pk)
    regions = tuple(
        RegionPlan(
            region=sfmc.sfmc_region(markets[ids[0]].country, is_lnaa=campaign.is_lnaa),
            market_ids=tuple(ids),
            rows=sum(counts[pk] for pk in ids),
        )
        for _, ids in sorted(grouped.items())
    )
    artist = sfmc.sfmc_artist_name(
        artist_name=campaign.artist_name, is_fan_club=campaign.is_fan_club, fan_club_name=campaign.fan_club_name
    )
    return ReminderPlan(artist_name=artist, markets=cells, regions=regions)


def split_files(records: Iterable[Any], *, columns: Sequence[Column], max_rows: int, name_for) -> Iterator[OutputFile]:
    """Consecutive files of at most `max_rows` records each, named `name_for(1)`, `name_for(2)`…
    Lazy: a file's records are drawn from the shared stream while the pipeline writes it."""
    iterator = iter(records)
    for part in itertools.count(1):
        first = next(iterator, None)
        if first is None:
            return
        yield OutputFile(name_for(part), columns, itertools.chain((first,), itertools.islice(iterator, max_rows - 1)))
