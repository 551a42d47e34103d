"""`autoReminderEmail`: the rows of reminderEmail, one CSV per SFMC region, each its own object
in the `sfmc` storage where the region's Marketing Cloud automation picks it up (orig).

Object key: `{SFMC prefix}_{artist}_{campaignId}_{YYYYMMDDHHmm}.csv` (orig), e.g.
`Ticketmaster/7222895/TMDemandMgmt/DM_ArtistPresale_V03_The-Band_42_202701021530.csv`.
The prefix is the region's business unit's (sfmc.py); the artist is the SFMC artist name made
key-safe (ASCII letters and digits joined by `-`); the time is the job's start (`started_at`,
the claim time) in UTC. No parameters, no row limit per file. Every selected fan is checked for
a code before the first object is written, so a missing code leaves nothing for SFMC to import.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC

from exports.types import sfmc
from exports.types.base import ExportContext, OutputFile
from exports.types.reminder_email import ReminderEmailExport


def sfmc_object_key(*, region: sfmc.SfmcRegion, artist_name: str, campaign_id: int, started_at) -> str:
    stamp = started_at.astimezone(UTC).strftime("%Y%m%d%H%M")
    artist = sfmc.key_safe(artist_name, fallback="artist")
    return f"{region.file_prefix}_{artist}_{campaign_id}_{stamp}.csv"


class AutoReminderEmailExport(ReminderEmailExport):
    key = "autoReminderEmail"
    label = "Automatic reminder e-mail (SFMC)"
    description = (
        "The rows of reminderEmail, one CSV per SFMC region written to the SFMC bucket under the "
        "region's file prefix; several keys, no single download."
    )
    parameters = ()
    output = "multi"
    storage_alias = "sfmc"
    ccpa_exempt = True  # orig: CCPA deletion keeps autoReminderEmail exports

    def parse_parameters(self, body: dict) -> dict:
        return {}

    def files(self, ctx: ExportContext) -> Iterator[OutputFile]:
        plan = ctx.cache["reminder"]
        columns = self.columns(ctx)
        for region in plan.regions:
            key = sfmc_object_key(
                region=region.region,
                artist_name=plan.artist_name,
                campaign_id=ctx.campaign.pk,
                started_at=ctx.started_at,
            )
            yield OutputFile(key, columns, self.region_records(ctx, region))
