"""The demo dataset's campaigns: markets, promoters, SMS waves and presale waves, as plans to fill."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import zip_longest

from django.contrib.auth.models import Group
from django.db import transaction

from campaigns.models import Campaign, Market, Promoter, SmsWave
from campaigns.services.demo_tables import CAMPAIGN_NAMES, CITIES, PREFERENCES, PROMOTER_NAMES


@dataclass
class CampaignPlan:
    """One campaign being filled: its parts and running counters."""

    campaign_id: int
    size: int
    fan_offset: int
    start: datetime
    preferences: list[dict]
    markets: list[tuple[int, str, float, float]]  # id, country, latitude, longitude
    promoter_ids: list[int]
    waves: list[tuple[str, datetime]]  # date_key, presale start
    sms_wave_ids: tuple[int, int]  # scheduled, not scheduled
    code_salt: int
    codes_made: int = 0
    ranks: Counter[int] = field(default_factory=Counter)


def campaign_sizes(*, campaigns: int, entries: int) -> list[int]:
    # 70% in the first campaign so one big export is possible; the rest shared evenly.
    if campaigns == 1:
        return [entries]
    rest = entries * 3 // 10 // (campaigns - 1)
    return [entries - rest * (campaigns - 1)] + [rest] * (campaigns - 1)


def campaign_plans_create(
    *, rng: random.Random, sizes: list[int], access_group: str | None, counts: Counter[str]
) -> list[CampaignPlan]:
    group = Group.objects.get_or_create(name=access_group)[0] if access_group else None
    existing = {promoter.name: promoter for promoter in Promoter.objects.filter(name__in=PROMOTER_NAMES)}
    created = Promoter.objects.bulk_create([Promoter(name=name) for name in PROMOTER_NAMES if name not in existing])
    promoters = sorted([*existing.values(), *created], key=lambda promoter: PROMOTER_NAMES.index(promoter.name))
    plans = []
    with transaction.atomic():
        for index, size in enumerate(sizes):
            last = index == len(sizes) - 1
            campaign = _campaign_create(rng=rng, index=index, count=len(sizes))
            if group:
                campaign.access_groups.add(group)
            # Every campaign has promoters except the last one (promoterEmailOptIn must refuse it).
            promoter_ids = [] if last and index else [p.pk for p in rng.sample(promoters, rng.randint(2, 3))]
            campaign.promoters.add(*promoter_ids)
            fan_offset = index * max(sizes) // len(sizes)  # overlapping windows: fans enter several campaigns
            plan = _plan_create(rng=rng, campaign=campaign, size=size, fan_offset=fan_offset, index=index, last=last)
            plan.promoter_ids = promoter_ids
            plans.append(plan)
    counts.update(campaigns=len(plans), promoters=len(created), sms_waves=2 * len(plans))
    counts["markets"] = sum(len(plan.markets) for plan in plans)
    return plans


def _campaign_create(*, rng: random.Random, index: int, count: int) -> Campaign:
    artist, tour = CAMPAIGN_NAMES[index % len(CAMPAIGN_NAMES)]
    suffix = f" #{index // len(CAMPAIGN_NAMES) + 1}" if index >= len(CAMPAIGN_NAMES) else ""
    chosen = sorted(rng.sample(range(len(PREFERENCES)), rng.randint(2, len(PREFERENCES))))
    preferences = [
        {"id": key, "type": kind, "is_optional": optional, "label": dict(label)}
        for key, kind, optional, label in (PREFERENCES[i] for i in chosen)
    ]
    return Campaign.objects.create(
        name=f"{artist} – {tour}{suffix}",
        artist_name=artist,
        tour_name=tour,
        is_fan_club=index == 1,
        fan_club_name=f"{artist} Official Fan Club" if index == 1 else "",
        theme_color=f"#{rng.getrandbits(24):06x}",
        is_lnaa=0 < index == min(2, count - 1),
        preferences=preferences,
    )


def _plan_create(
    *, rng: random.Random, campaign: Campaign, size: int, fan_offset: int, index: int, last: bool
) -> CampaignPlan:
    start = datetime(2025, 1, 6, 15, tzinfo=UTC) + timedelta(days=30 * index)
    cities = _cities_pick(rng=rng, count=8 if index == 0 else rng.randint(3, 8))
    markets = _markets_create(rng=rng, campaign=campaign, cities=cities, first_show=start.date() + timedelta(days=60))
    if last:  # one market with no event date and no event ids
        Market.objects.filter(pk=markets[-1].pk).update(event_date=None, event_ids=[])
    days = [start.replace(hour=0) + timedelta(days=21 + 7 * n) for n in range(rng.randint(2, 3))]
    scheduled, unscheduled = SmsWave.objects.bulk_create(
        [SmsWave(campaign=campaign, scheduled_at=start + timedelta(days=20)), SmsWave(campaign=campaign)]
    )
    return CampaignPlan(
        campaign_id=campaign.pk,
        size=size,
        fan_offset=fan_offset,
        start=start,
        preferences=campaign.preferences,
        markets=[(m.pk, c[2], c[4], c[5]) for m, c in zip(markets, cities, strict=True)],
        promoter_ids=[],
        waves=[(str(int(day.timestamp()) * 1000), day) for day in days],
        sms_wave_ids=(scheduled.pk, unscheduled.pk),
        code_salt=rng.getrandbits(40),
    )


def _cities_pick(*, rng: random.Random, count: int) -> list[tuple]:
    # Round-robin over countries so even 3 markets span 3 countries (and SFMC regions).
    by_country: dict[str, list[tuple]] = {}
    for city in rng.sample(CITIES, len(CITIES)):
        by_country.setdefault(city[2], []).append(city)
    return [city for group in zip_longest(*by_country.values()) for city in group if city][:count]


def _markets_create(*, rng: random.Random, campaign: Campaign, cities: list[tuple], first_show: date) -> list[Market]:
    markets = []
    for n, (city, state, country, venue, _, _) in enumerate(cities):
        event_ids = [f"{rng.getrandbits(64):016X}" for _ in range(rng.randint(1, 3))]
        name, event_date = f"{city}, {state or country}", first_show + timedelta(days=2 * n)
        markets.append(
            Market(
                campaign=campaign,
                name=name,
                city=city,
                state=state,
                country=country,
                venue_name=venue,
                event_date=event_date,
                event_ids=event_ids,
            )
        )
    return Market.objects.bulk_create(markets)
