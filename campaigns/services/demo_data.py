"""The deterministic demo dataset generator (PRODUCT §1): realistic, awkward, fast."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, fields

from campaigns.models import Campaign
from campaigns.services.bulk_insert import TABLES, Rows, rows_insert
from campaigns.services.demo_campaigns import CampaignPlan, campaign_plans_create, campaign_sizes
from campaigns.services.demo_rows import DemoIds, code_pool, entry_rows_add, fan_row

ProgressCallback = Callable[[int, int], None]

# Entries per transaction: big enough to amortise round trips, small enough for flat memory.
BATCH_SIZE = 5000


@dataclass(frozen=True)
class DemoSummary:
    """Rows created per model; `skipped` when `only_if_empty` found campaigns already."""

    campaigns: int = 0
    promoters: int = 0
    markets: int = 0
    fans: int = 0
    entries: int = 0
    additional_markets: int = 0
    promoter_opt_ins: int = 0
    codes: int = 0
    scoring_records: int = 0
    scoring_codes: int = 0
    sms_waves: int = 0
    sms_wave_fans: int = 0
    skipped: bool = False

    def counts(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "skipped"}


def demo_dataset_create(
    *,
    campaigns: int,
    entries: int,
    seed: int = 1,
    access_group: str | None = None,
    only_if_empty: bool = False,
    progress: ProgressCallback | None = None,
) -> DemoSummary:
    """Create a demo dataset, identical for the same seed; most entries go to the first campaign."""
    if campaigns < 1 or entries < 0:
        raise ValueError("campaigns must be at least 1 and entries at least 0")
    if only_if_empty and Campaign.objects.exists():
        return DemoSummary(skipped=True)
    counts: Counter[str] = Counter()
    rng, ids = random.Random(seed), DemoIds()
    sizes = campaign_sizes(campaigns=campaigns, entries=entries)
    fans, total, done = (ids.next["fans"], max(sizes)), max(sizes) + entries, 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        if progress:
            progress(done, total)

    plans = campaign_plans_create(rng=rng, sizes=sizes, access_group=access_group, counts=counts)
    try:
        _fans_create(rng=rng, ids=ids, count=max(sizes), counts=counts, advance=advance)
        for plan in plans:
            _entries_create(rng=rng, plan=plan, ids=ids, fans=fans, counts=counts, advance=advance)
    finally:
        ids.sequences_reset()  # also after a failure: committed batches used ids past the sequence
    return DemoSummary(**counts)  # type: ignore[arg-type]  # counts has only the int fields, never `skipped`


def _entries_create(
    *,
    rng: random.Random,
    plan: CampaignPlan,
    ids: DemoIds,
    fans: tuple[int, int],
    counts: Counter[str],
    advance: Callable,
) -> None:
    fan_base, fan_count = fans
    for start in range(0, plan.size, BATCH_SIZE):
        stop = min(start + BATCH_SIZE, plan.size)
        rows: Rows = {name: [] for name in TABLES}
        for index in range(start, stop):
            fan_index = (plan.fan_offset + index) % fan_count  # distinct fans within a campaign
            entry_rows_add(rng=rng, plan=plan, ids=ids, rows=rows, index=index, fan=(fan_index, fan_base + fan_index))
        rows_insert(rows=rows, counts=counts)
        advance(stop - start)
    rows_insert(rows={"codes": code_pool(rng=rng, plan=plan, ids=ids)}, counts=counts)


def _fans_create(*, rng: random.Random, ids: DemoIds, count: int, counts: Counter[str], advance: Callable) -> None:
    salt = rng.getrandbits(30)
    for start in range(0, count, BATCH_SIZE):
        stop = min(start + BATCH_SIZE, count)
        fans = [fan_row(rng=rng, fan_id=ids.take("fans"), index=index, salt=salt) for index in range(start, stop)]
        rows_insert(rows={"fans": fans}, counts=counts)
        advance(stop - start)
