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

from collections.abc import Iterator, Sequence
from typing import ClassVar

from campaigns import selectors
from campaigns.models import Campaign
from exports.columns import Column
from exports.errors import ExportFailure
from exports.types.base import CSV, ExportContext, ExportType, OutputFile, OutputShape, Parameter
from exports.types.reminder_rows import (
    REMINDER_HEADERS,
    RegionPlan,
    ReminderMarket,
    ReminderRecord,
    missing_code_failure,
    parse_int_parameter,
    reminder_columns,
    reminder_plan,
    split_files,
)

DEFAULT_MAX_ROWS_PER_FILE = 50_000
MAX_ROWS_PER_FILE_LIMIT = 1_000_000
DEFAULT_SAMPLE_SIZE = 100
MAX_SAMPLE_SIZE = 10_000
# zipfile keeps one entry per member in memory until the end; this bounds it (and the file count).
MAX_FILES_PER_EXPORT = 10_000


class ReminderEmailExport(ExportType):
    key = "reminderEmail"
    label = "Reminder e-mail (SFMC)"
    description = (
        "Selected fans with their code for the market, in SFMC import columns: a ZIP with a folder per "
        "SFMC region (NA/, UK/, …) of CSVs of at most maxRowsPerFile rows."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            "maxRowsPerFile",
            "integer",
            False,
            f"Rows per CSV file, 1 to {MAX_ROWS_PER_FILE_LIMIT} (default {DEFAULT_MAX_ROWS_PER_FILE}).",
            default=DEFAULT_MAX_ROWS_PER_FILE,
        ),
    )
    file_format = CSV
    output = OutputShape.ZIP
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
