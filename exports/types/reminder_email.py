"""`reminderEmail` and `reminderEmailSample`: selected scoring records with their code for the
market, in SFMC import columns, as a ZIP with one folder per SFMC region (orig).

Layout: `{REGION}/reminder_email_{campaignId}_{REGION}_{NNN}.csv`, regions in alphabetical
order, parts numbered from 001, each at most `maxRowsPerFile` rows (the sample:
`reminder_email_sample_…`, at most `sampleSize` rows per region: the lowest record ids).
Rows are in scoring record id order; each region is one keyset-paged query stream.

Columns (ours, for an SFMC import): email, first_name, last_name (entry e-mail over the fan's,
fan names over the entry's, as in `entries`), locale (SFMC-mapped), member_id (SubscriberKey),
artist_name (fan-club rule), campaign_id, campaign_name, market_id, market_name, city, state,
country, event_date (YYYY-MM-DD), venue_name, code, mid (the row's Marketing Cloud MID), region.
A selected fan whose record has no code for its market fails the export, naming both ids.
The SFMC tables and rules live in `exports/types/sfmc.py`.
"""

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
from exports.types.base import CSV, ExportContext, ExportType, OutputFile, Parameter

DEFAULT_MAX_ROWS_PER_FILE = 50_000
MAX_ROWS_PER_FILE_LIMIT = 1_000_000
DEFAULT_SAMPLE_SIZE = 100
MAX_SAMPLE_SIZE = 10_000
# zipfile keeps one entry per member in memory until the end; this bounds it (and the file count).
MAX_FILES_PER_EXPORT = 10_000

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


class ReminderEmailExport(ExportType):
    key = "reminderEmail"
    label = "Reminder e-mail (SFMC)"
    description = (
        "Selected fans with their code for the market, in SFMC import columns: a ZIP with a folder per "
        "SFMC region (NA/, UK/, …) of CSVs of at most maxRowsPerFile rows."
    )
    parameters: tuple[Parameter, ...] = (
        Parameter(
            "maxRowsPerFile",
            "integer",
            False,
            f"Rows per CSV file, 1 to {MAX_ROWS_PER_FILE_LIMIT} (default {DEFAULT_MAX_ROWS_PER_FILE}).",
            default=DEFAULT_MAX_ROWS_PER_FILE,
        ),
    )
    file_format = CSV
    output = "zip"
    member_stem = "reminder_email"
    # Check every selected fan has a code before anything is uploaded (the sample checks only its rows).
    check_codes_first = True

    def header_names(self) -> list[str]:
        return list(REMINDER_HEADERS)

    def parse_parameters(self, body: dict) -> dict:
        return {
            "maxRowsPerFile": parse_int_parameter(
                body, "maxRowsPerFile", default=DEFAULT_MAX_ROWS_PER_FILE, minimum=1, maximum=MAX_ROWS_PER_FILE_LIMIT
            )
        }

    def snapshot(self, campaign: Campaign) -> dict:
        return {"max_scoring_id": selectors.scoring_max_id(campaign_id=campaign.pk)}

    def row_limit(self, ctx: ExportContext) -> int | None:
        """Rows per region (None: all)."""
        return None

    def prepare(self, ctx: ExportContext) -> None:
        plan = reminder_plan(ctx.campaign, upper_id=ctx.snapshot["max_scoring_id"])
        ctx.cache["reminder"] = plan
        max_rows = ctx.parameters.get("maxRowsPerFile")
        if max_rows:
            files = sum(-(-self._region_rows(ctx, region) // max_rows) for region in plan.regions)
            if files > MAX_FILES_PER_EXPORT:
                raise ExportFailure(
                    f"With maxRowsPerFile {max_rows} this export would have {files} files; the limit is "
                    f"{MAX_FILES_PER_EXPORT}. Request it again with a larger maxRowsPerFile.",
                    f"{files} files > {MAX_FILES_PER_EXPORT}",
                )
        if self.check_codes_first:
            missing = selectors.selected_first_without_code(
                campaign_id=ctx.campaign.pk, upper_id=ctx.snapshot["max_scoring_id"]
            )
            if missing is not None:
                raise missing_code_failure(*missing)

    def _region_rows(self, ctx: ExportContext, region: RegionPlan) -> int:
        limit = self.row_limit(ctx)
        return region.rows if limit is None else min(region.rows, limit)

    def estimate(self, ctx: ExportContext) -> int:
        return sum(self._region_rows(ctx, region) for region in ctx.cache["reminder"].regions)

    def columns(self, ctx: ExportContext) -> Sequence[Column]:
        return reminder_columns(ctx.campaign, artist_name=ctx.cache["reminder"].artist_name)

    def region_records(self, ctx: ExportContext, region: RegionPlan) -> Iterator[ReminderRecord]:
        """One region's records, streamed page by page; a row without a code ends the export."""
        markets: dict[int, ReminderMarket] = ctx.cache["reminder"].markets
        for page in selectors.selected_reminder_pages(
            campaign_id=ctx.campaign.pk,
            market_ids=region.market_ids,
            upper_id=ctx.snapshot["max_scoring_id"],
            page_size=ctx.page_size,
            limit=self.row_limit(ctx),
        ):
            for row in page:
                if row.code is None:
                    raise missing_code_failure(row.id, row.market_id)
                yield ReminderRecord(row, markets[row.market_id])

    def files(self, ctx: ExportContext) -> Iterator[OutputFile]:
        columns = self.columns(ctx)
        max_rows = ctx.parameters.get("maxRowsPerFile") or DEFAULT_MAX_ROWS_PER_FILE
        for region in ctx.cache["reminder"].regions:
            code = region.region.code
            yield from split_files(
                self.region_records(ctx, region),
                columns=columns,
                max_rows=max_rows,
                name_for=lambda part, code=code: f"{code}/{self.member_stem}_{ctx.campaign.pk}_{code}_{part:03d}.csv",
            )


class ReminderEmailSampleExport(ReminderEmailExport):
    key = "reminderEmailSample"
    label = "Reminder e-mail sample (SFMC)"
    description = "A preview of reminderEmail: the same ZIP with at most sampleSize rows per region."
    parameters = (
        *ReminderEmailExport.parameters,
        Parameter(
            "sampleSize",
            "integer",
            False,
            f"Rows per region, 1 to {MAX_SAMPLE_SIZE} (default {DEFAULT_SAMPLE_SIZE}).",
            default=DEFAULT_SAMPLE_SIZE,
        ),
    )
    member_stem = "reminder_email_sample"
    check_codes_first = False

    def parse_parameters(self, body: dict) -> dict:
        return {
            **super().parse_parameters(body),
            "sampleSize": parse_int_parameter(
                body, "sampleSize", default=DEFAULT_SAMPLE_SIZE, minimum=1, maximum=MAX_SAMPLE_SIZE
            ),
        }

    def row_limit(self, ctx: ExportContext) -> int | None:
        return ctx.parameters.get("sampleSize") or DEFAULT_SAMPLE_SIZE
