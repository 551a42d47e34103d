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
from exports.types.base import (
    CSV,
    CopySource,
    ExportContext,
    ExportType,
    OutputFile,
    OutputShape,
    Parameter,
    copy_cells,
)
from exports.types.reminder_rows import (
    REMINDER_HEADERS,
    RegionPlan,
    ReminderMarket,
    ReminderPlan,
    ReminderRecord,
    missing_code_failure,
    parse_int_parameter,
    reminder_columns,
    reminder_plan,
    reminder_sample_plan,
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

    def plan(self, ctx: ExportContext) -> ReminderPlan:
        return reminder_plan(ctx.campaign, upper_id=ctx.snapshot["max_scoring_id"])

    def prepare(self, ctx: ExportContext) -> None:
        plan = self.plan(ctx)
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
        ctx.cache["locales"] = plan.locales
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
        plan = ctx.cache["reminder"]
        return reminder_columns(
            ctx.campaign, artist_name=plan.artist_name, markets=plan.markets, locales=ctx.cache["locales"]
        )

    def region_records(
        self, ctx: ExportContext, region: RegionPlan, *, after_id: int = 0, upper_id: int | None = None
    ) -> Iterator[ReminderRecord]:
        """One region's records (after_id < id <= upper_id), streamed page by page; a row
        without a code ends the export."""
        markets: dict[int, ReminderMarket] = ctx.cache["reminder"].markets
        for page in selectors.selected_reminder_pages(
            campaign_id=ctx.campaign.pk,
            market_ids=region.market_ids,
            upper_id=ctx.snapshot["max_scoring_id"] if upper_id is None else upper_id,
            page_size=ctx.page_size,
            after_id=after_id,
        ):
            for row in page:
                if row.code is None:
                    raise missing_code_failure(row.id, row.market_id)
                yield ReminderRecord(row, markets[row.market_id])

    def region_file(
        self,
        ctx: ExportContext,
        region: RegionPlan,
        name: str,
        columns: Sequence[Column],
        *,
        after_id: int,
        upper_id: int,
    ) -> OutputFile:
        """The file of the region's records after_id < id <= upper_id, for either path. Without
        the up-front check, the range is checked for a selected fan without a code first (the
        lowest such record, the one the row stream would stop at)."""
        if not self.check_codes_first:
            missing = selectors.selected_first_without_code(
                campaign_id=ctx.campaign.pk, upper_id=upper_id, market_ids=region.market_ids, after_id=after_id
            )
            if missing is not None:
                raise missing_code_failure(*missing)
        campaign_id, market_ids = ctx.campaign.pk, region.market_ids
        copy = CopySource(
            cells=lambda after, upper: copy_cells(
                selectors.selected_rows_queryset(
                    campaign_id=campaign_id, market_ids=market_ids, after_id=after, upper_id=upper
                ),
                columns,
            ),
            boundary=lambda after, rows: selectors.selected_boundary(
                campaign_id=campaign_id, market_ids=market_ids, after_id=after, upper_id=upper_id, rows=rows
            ),
            after_id=after_id,
        )
        records = self.region_records(ctx, region, after_id=after_id, upper_id=upper_id)
        return OutputFile(name, columns, records, copy=copy)

    def region_end(
        self, ctx: ExportContext, region: RegionPlan, *, after_id: int, rows: int, upper_id: int | None = None
    ) -> int | None:
        """The id of the region's `rows`-th record after `after_id` (`upper_id`, by default the
        snapshot's upper bound, when fewer are left); None when none is left. An index walk of
        the selected records, which stops at `upper_id`."""
        return selectors.selected_boundary(
            campaign_id=ctx.campaign.pk,
            market_ids=region.market_ids,
            after_id=after_id,
            upper_id=ctx.snapshot["max_scoring_id"] if upper_id is None else upper_id,
            rows=rows,
        )

    def files(self, ctx: ExportContext) -> Iterator[OutputFile]:
        """Each region's records (at most row_limit), split into files of at most
        maxRowsPerFile. Every file's key range is found before it is written, so the row stream
        and the fast path write the same files."""
        columns = self.columns(ctx)
        max_rows = ctx.parameters.get("maxRowsPerFile") or DEFAULT_MAX_ROWS_PER_FILE
        for region in ctx.cache["reminder"].regions:
            code = region.region.code
            last = ctx.snapshot["max_scoring_id"] if region.last_id is None else region.last_id
            after_id, part = 0, 1
            while last is not None and after_id < last:
                # Bounded by `last`: a sample's walk ends after its own rows.
                end = self.region_end(ctx, region, after_id=after_id, rows=max_rows, upper_id=last)
                if end is None:
                    break
                name = f"{code}/{self.member_stem}_{ctx.campaign.pk}_{code}_{part:03d}.csv"
                yield self.region_file(ctx, region, name, columns, after_id=after_id, upper_id=end)
                after_id, part = end, part + 1


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

    def plan(self, ctx: ExportContext) -> ReminderPlan:
        """Only the sample's records are read: each region ends at its last sampled record."""
        return reminder_sample_plan(
            ctx.campaign, upper_id=ctx.snapshot["max_scoring_id"], sample_size=self.row_limit(ctx) or 1
        )
