"""The deterministic demo dataset generator (PRODUCT §1): realistic, awkward, fast."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from itertools import zip_longest

from django.contrib.auth.models import Group
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max

from campaigns.models import Campaign, Code, Entry, Fan, Market, Promoter, ScoringRecord, SmsWave
from campaigns.services.bulk_insert import TABLES, Rows, rows_insert
from campaigns.services.demo_tables import (
    AWKWARD,
    CAMPAIGN_NAMES,
    CITIES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    LOCALES,
    PHONE_PREFIXES,
    POSTAL_CODES,
    PREFERENCES,
    PROMOTER_NAMES,
    SELECT_OPTIONS,
    SLUGS,
    TEXT_ANSWERS,
)

ProgressCallback = Callable[[int, int], None]

# Entries per transaction: big enough to amortise round trips, small enough for flat memory.
BATCH_SIZE = 5000
AWKWARD_EVERY = 20  # 1 row in 20 (5%) carries an awkward value, rotating through AWKWARD


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


@dataclass
class _Plan:
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


class _Ids:
    """Primary keys handed out here, so linked rows need no read-back; sequences are reset at the end."""

    MODELS: dict[str, type[Fan | Entry | Code | ScoringRecord]] = {
        "fans": Fan,
        "entries": Entry,
        "codes": Code,
        "scoring_records": ScoringRecord,
    }

    def __init__(self) -> None:
        self.next = {name: (m.objects.aggregate(top=Max("pk"))["top"] or 0) + 1 for name, m in self.MODELS.items()}

    def take(self, name: str) -> int:
        self.next[name] += 1
        return self.next[name] - 1

    def sequences_reset(self) -> None:
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), list(self.MODELS.values())):
                cursor.execute(sql)


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
    rng, ids = random.Random(seed), _Ids()
    sizes = _campaign_sizes(campaigns=campaigns, entries=entries)
    fans, total, done = (ids.next["fans"], max(sizes)), max(sizes) + entries, 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        if progress:
            progress(done, total)

    plans = _campaigns_create(rng=rng, sizes=sizes, access_group=access_group, counts=counts)
    try:
        _fans_create(rng=rng, ids=ids, count=max(sizes), counts=counts, advance=advance)
        for plan in plans:
            _entries_create(rng=rng, plan=plan, ids=ids, fans=fans, counts=counts, advance=advance)
    finally:
        ids.sequences_reset()  # also after a failure: committed batches used ids past the sequence
    return DemoSummary(**counts)  # type: ignore[arg-type]  # counts has only the int fields, never `skipped`


def _entries_create(
    *, rng: random.Random, plan: _Plan, ids: _Ids, fans: tuple[int, int], counts: Counter[str], advance: Callable
) -> None:
    fan_base, fan_count = fans
    for start in range(0, plan.size, BATCH_SIZE):
        stop = min(start + BATCH_SIZE, plan.size)
        rows: Rows = {name: [] for name in TABLES}
        for index in range(start, stop):
            fan_index = (plan.fan_offset + index) % fan_count  # distinct fans within a campaign
            _entry_add(rng=rng, plan=plan, ids=ids, rows=rows, index=index, fan=(fan_index, fan_base + fan_index))
        rows_insert(rows=rows, counts=counts)
        advance(stop - start)
    rows_insert(rows={"codes": _code_pool(rng=rng, plan=plan, ids=ids)}, counts=counts)


def _campaign_sizes(*, campaigns: int, entries: int) -> list[int]:
    # 70% in the first campaign so one big export is possible; the rest shared evenly.
    if campaigns == 1:
        return [entries]
    rest = entries * 3 // 10 // (campaigns - 1)
    return [entries - rest * (campaigns - 1)] + [rest] * (campaigns - 1)


def _campaigns_create(
    *, rng: random.Random, sizes: list[int], access_group: str | None, counts: Counter[str]
) -> list[_Plan]:
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
) -> _Plan:
    start = datetime(2025, 1, 6, 15, tzinfo=UTC) + timedelta(days=30 * index)
    cities = _cities_pick(rng=rng, count=8 if index == 0 else rng.randint(3, 8))
    markets = _markets_create(rng=rng, campaign=campaign, cities=cities, first_show=start.date() + timedelta(days=60))
    if last:  # one market with no event date and no event ids
        Market.objects.filter(pk=markets[-1].pk).update(event_date=None, event_ids=[])
    days = [start.replace(hour=0) + timedelta(days=21 + 7 * n) for n in range(rng.randint(2, 3))]
    scheduled, unscheduled = SmsWave.objects.bulk_create(
        [SmsWave(campaign=campaign, scheduled_at=start + timedelta(days=20)), SmsWave(campaign=campaign)]
    )
    return _Plan(
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


def _fans_create(*, rng: random.Random, ids: _Ids, count: int, counts: Counter[str], advance: Callable) -> None:
    salt = rng.getrandbits(30)
    for start in range(0, count, BATCH_SIZE):
        stop = min(start + BATCH_SIZE, count)
        fans = [_fan_row(rng=rng, fan_id=ids.take("fans"), index=index, salt=salt) for index in range(start, stop)]
        rows_insert(rows={"fans": fans}, counts=counts)
        advance(stop - start)


def _fan_row(*, rng: random.Random, fan_id: int, index: int, salt: int) -> tuple:
    # Blank fields come at fixed strides so every fallback rule is hit in small datasets too.
    country = CITIES[rng.randrange(len(CITIES))][2]
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    email = "" if index % 50 == 7 else f"{SLUGS[first]}.{SLUGS[last]}{index}@{rng.choice(EMAIL_DOMAINS)}"
    if index % 40 == 9:
        first = last = ""
    if index % AWKWARD_EVERY == 1:
        first, last, email = AWKWARD[index // AWKWARD_EVERY % len(AWKWARD)]
    phone = "" if index % 6 == 0 else f"{PHONE_PREFIXES[country]}{rng.randrange(1000, 10000)}"
    postal_code = "" if index % 10 == 3 else rng.choice(POSTAL_CODES[country])
    tm_id = f"{(salt + index * 48271) % 10**10:010d}"  # multipliers coprime to the modulus: unique ids
    member_id = "" if index % 45 == 4 else f"{(salt + index * 69621) % 10**9:09d}"
    global_user_id = f"{(salt + index * 0x9E3779B97F4A7C15) % 2**64:016x}"
    return (fan_id, tm_id, member_id, global_user_id, email, phone, postal_code, first, last)


def _entry_add(*, rng: random.Random, plan: _Plan, ids: _Ids, rows: Rows, index: int, fan: tuple[int, int]) -> None:
    (fan_index, fan_id), entry_id = fan, ids.take("entries")
    market = rng.randrange(len(plan.markets))
    market_id, country, latitude, longitude = plan.markets[market]
    created = plan.start + timedelta(seconds=index * 1_209_600 // plan.size + rng.randrange(60))
    awkward = AWKWARD[index // AWKWARD_EVERY % len(AWKWARD)] if index % AWKWARD_EVERY == 11 else None
    fraud = None if rng.random() < 0.03 else round(rng.random(), 4)
    band = "" if fraud is None else "low" if fraud < 0.6 else "medium" if fraud < 0.85 else "high"
    locale, located, allow_promoter = rng.choice(LOCALES[country]), rng.random() >= 0.02, rng.random() < 0.3
    rows["entries"].append((
        entry_id, plan.campaign_id, fan_id, market_id, locale, created,
        *_entry_contact(rng=rng, country=country, fan_index=fan_index, awkward=awkward, created=created),
        _answers(rng=rng, plan=plan, awkward=awkward), rng.random() < 0.6, rng.random() < 0.4, allow_promoter,
        rng.random() < 0.35, _ip_address(rng=rng), "" if index % 7 == 2 else rng.choice(POSTAL_CODES[country]),
        round(latitude + rng.uniform(-0.3, 0.3), 5) if located else None,
        round(longitude + rng.uniform(-0.3, 0.3), 5) if located else None,
        fraud, band, round(rng.random(), 3) if rng.random() < 0.9 else None,
    ))  # fmt: skip
    others = [m for m in rng.sample(range(len(plan.markets)), min(3, len(plan.markets))) if m != market]
    rows["additional_markets"] += [(entry_id, plan.markets[m][0]) for m in others[: rng.choice((0, 0, 1, 2))]]
    if allow_promoter and plan.promoter_ids:
        chosen = rng.sample(plan.promoter_ids, rng.randint(1, len(plan.promoter_ids)))
        rows["promoter_opt_ins"] += [(entry_id, promoter_id) for promoter_id in chosen]
    if fraud is not None:  # entries that were never scored have no scoring record
        _scoring_add(rng=rng, plan=plan, ids=ids, rows=rows, fan_id=fan_id, market_id=market_id, locale=locale)


def _entry_contact(
    *, rng: random.Random, country: str, fan_index: int, awkward: tuple[str, str, str] | None, created: datetime
) -> tuple[datetime | None, str, str, str, str]:
    # Entry-level values override the fan's; fans missing a value get one here more often.
    email = phone = first = last = ""
    if rng.random() < (0.8 if fan_index % 50 == 7 else 0.3):
        email = f"fan{fan_index}.entry@{EMAIL_DOMAINS[fan_index % len(EMAIL_DOMAINS)]}"
    if rng.random() < (0.7 if fan_index % 6 == 0 else 0.25):
        phone = f"{PHONE_PREFIXES[country]}{rng.randrange(1000, 10000)}"
    if rng.random() < (0.9 if fan_index % 40 == 9 else 0.2):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    if awkward:
        first, last, email = awkward
    confirmed = None
    if (phone or fan_index % 6) and rng.random() < 0.6:
        confirmed = created + timedelta(seconds=rng.randrange(30, 86_400))
    return (confirmed, email, phone, first, last)


def _answers(*, rng: random.Random, plan: _Plan, awkward: tuple[str, str, str] | None) -> dict:
    answers: dict[str, object] = {}
    for preference in plan.preferences:
        key, kind = preference["id"], preference["type"]
        if preference["is_optional"] and rng.random() < 0.3:
            continue
        if kind == "checkbox":
            answers[key] = rng.random() < 0.5
        elif kind == "select":
            answers[key] = rng.choice(SELECT_OPTIONS[key])
        else:
            answers[key] = f"{awkward[0]} {awkward[1]}" if awkward else rng.choice(TEXT_ANSWERS)
    return answers


def _ip_address(*, rng: random.Random) -> str:
    bits = rng.getrandbits(32)
    if bits % 97 == 0:
        return ""
    if bits % 29 == 0:
        return f"2001:db8:{bits >> 16:x}:{bits & 0xFFFF:x}::1"
    return f"{(bits >> 24) % 223 + 1}.{bits >> 16 & 255}.{bits >> 8 & 255}.{bits & 255}"


def _scoring_add(
    *, rng: random.Random, plan: _Plan, ids: _Ids, rows: Rows, fan_id: int, market_id: int, locale: str
) -> None:
    score, record_id = round(rng.uniform(0, 100), 2), ids.take("scoring_records")
    selected = score >= 70  # about 30%
    plan.ranks[market_id] += 1  # rank = order of scoring within the market
    rank = plan.ranks[market_id]
    rows["scoring_records"].append((record_id, plan.campaign_id, fan_id, market_id, score, rank, selected, locale))
    if selected:
        code_id = ids.take("codes")
        rows["codes"].append(_code_row(rng=rng, plan=plan, code_id=code_id, market_id=market_id, fan_id=fan_id))
        rows["scoring_codes"].append((record_id, code_id))
        return
    roll = rng.random()
    if roll < 0.07:  # a few unselected fans got an SMS, most in the scheduled wave
        rows["sms_wave_fans"].append((plan.sms_wave_ids[roll >= 0.05], fan_id))


def _code_row(
    *,
    rng: random.Random,
    plan: _Plan,
    code_id: int,
    market_id: int,
    fan_id: int | None = None,
    status: str = Code.Status.ASSIGNED.value,
) -> tuple:
    plan.codes_made += 1
    date_key, presale = plan.waves[rng.randrange(len(plan.waves))]
    value = f"{(plan.code_salt + plan.codes_made * 0x9E3779B1) % 2**40:010X}"  # odd multiplier: unique
    assigned_at = presale + timedelta(seconds=rng.randrange(86_400)) if fan_id else None
    return (code_id, plan.campaign_id, market_id, value, date_key, status, fan_id, assigned_at)


def _code_pool(*, rng: random.Random, plan: _Plan, ids: _Ids) -> list[tuple]:
    # Unassigned stock per market: every market has codes, even one nobody entered.
    codes = []
    for market_id, *_ in plan.markets:
        available = 3 + plan.ranks[market_id] // 20
        for n in range(available + 1 + available // 4):
            status = (Code.Status.AVAILABLE if n < available else Code.Status.RESERVED).value
            codes.append(_code_row(rng=rng, plan=plan, code_id=ids.take("codes"), market_id=market_id, status=status))
    return codes
