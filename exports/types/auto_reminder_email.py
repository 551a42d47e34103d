"""`autoReminderEmail`: the rows of reminderEmail, one CSV per SFMC region, each its own object
in the `sfmc` storage where the region's Marketing Cloud automation picks it up (orig).

Object key: `{SFMC prefix}_{artist}_{campaignId}_{YYYYMMDDHHmm}.csv` (orig), e.g.
`Ticketmaster/7222895/TMDemandMgmt/DM_ArtistPresale_V03_The-Band_42_202701021530.csv`.
The prefix is the region's business unit's (sfmc.py); the artist is the SFMC artist name made
key-safe (ASCII letters and digits joined by `-`); the time is the job's start in UTC, to the
minute. Two jobs of one campaign in the same minute would write the same keys (the second
overwriting the first's objects, and the first one's retention later deleting the second's), so
the stamp is fixed in the job's snapshot as the first minute, from its start on, that no other
job of the campaign has taken; the file name may then be a minute or two ahead of the start.
No parameters, no row limit per file. Every selected fan is checked for a code before the first
object is written, so a missing code leaves nothing for SFMC to import.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from campaigns.models import Campaign
from exports import selectors
from exports.types import sfmc
from exports.types.base import ExportContext, OutputFile, OutputShape
from exports.types.reminder_email import ReminderEmailExport

STAMP_FORMAT = "%Y%m%d%H%M"


def sfmc_object_key(*, region: sfmc.SfmcRegion, artist_name: str, campaign_id: int, stamp: str) -> str:
    artist = sfmc.key_safe(artist_name, fallback="artist")
    return f"{region.file_prefix}_{artist}_{campaign_id}_{stamp}.csv"


def minute_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def _stamp_of(snapshot: dict) -> str | None:
    """The stamp a job's keys carry (jobs from before stamps were kept: their start minute)."""
    if "sfmc_stamp" in snapshot:
        return snapshot["sfmc_stamp"]
    if "started_at" in snapshot:
        return minute_stamp(datetime.fromisoformat(snapshot["started_at"]))
    return None


def free_minute_stamp(*, campaign_id: int, now: datetime) -> str:
    """The first minute from `now` on that no recent job of the campaign has used in its keys.
    At most one job per campaign is active (dedupe), so no two jobs pick a minute at once."""
    taken = {
        stamp
        for snapshot in selectors.export_snapshots_since(
            campaign_id=campaign_id, export_type=AutoReminderEmailExport.key, since=now - timedelta(hours=1)
        )
        if (stamp := _stamp_of(snapshot))
    }
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    while minute_stamp(minute) in taken:
        minute += timedelta(minutes=1)
    return minute_stamp(minute)


class AutoReminderEmailExport(ReminderEmailExport):
    key = "autoReminderEmail"
    label = "Automatic reminder e-mail (SFMC)"
    description = (
        "The rows of reminderEmail, one CSV per SFMC region written to the SFMC bucket under the "
        "region's file prefix; several keys, no single download."
    )
    parameters = ()
    output = OutputShape.MULTI
    storage_alias = "sfmc"
    ccpa_exempt = True  # orig: CCPA deletion keeps autoReminderEmail exports

    def parse_parameters(self, body: dict) -> dict:
        return {}

    def snapshot(self, campaign: Campaign) -> dict:
        return {
            **super().snapshot(campaign),
            "sfmc_stamp": free_minute_stamp(campaign_id=campaign.pk, now=timezone.now()),
        }

    def files(self, ctx: ExportContext) -> Iterator[OutputFile]:
        plan = ctx.cache["reminder"]
        columns = self.columns(ctx)
        for region in plan.regions:
            key = sfmc_object_key(
                region=region.region,
                artist_name=plan.artist_name,
                campaign_id=ctx.campaign.pk,
                stamp=ctx.snapshot.get("sfmc_stamp") or minute_stamp(ctx.started_at),
            )
            yield self.region_file(ctx, region, key, columns, after_id=0, upper_id=ctx.snapshot["max_scoring_id"])
