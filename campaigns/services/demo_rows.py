"""The demo dataset's rows as plain tuples (TABLES' column orders): fans, entries, scoring
records, codes; ids handed out here so linked rows need no read-back."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.core.management.color import no_style
from django.db import connection
from django.db.models import Max

from campaigns.models import Code, Entry, Fan, ScoringRecord
from campaigns.services.bulk_insert import Rows
from campaigns.services.demo_campaigns import CampaignPlan
from campaigns.services.demo_tables import (
    AWKWARD,
    CITIES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    LOCALES,
    PHONE_PREFIXES,
    POSTAL_CODES,
    SELECT_OPTIONS,
    SLUGS,
    TEXT_ANSWERS,
)

AWKWARD_EVERY = 20  # 1 row in 20 (5%) carries an awkward value, rotating through AWKWARD


class DemoIds:
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


def fan_row(*, rng: random.Random, fan_id: int, index: int, salt: int) -> tuple:
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


def entry_rows_add(
    *, rng: random.Random, plan: CampaignPlan, ids: DemoIds, rows: Rows, index: int, fan: tuple[int, int]
) -> None:
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


def _answers(*, rng: random.Random, plan: CampaignPlan, awkward: tuple[str, str, str] | None) -> dict:
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
    *, rng: random.Random, plan: CampaignPlan, ids: DemoIds, rows: Rows, fan_id: int, market_id: int, locale: str
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
    plan: CampaignPlan,
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


def code_pool(*, rng: random.Random, plan: CampaignPlan, ids: DemoIds) -> list[tuple]:
    # Unassigned stock per market: every market has codes, even one nobody entered.
    codes = []
    for market_id, *_ in plan.markets:
        available = 3 + plan.ranks[market_id] // 20
        for n in range(available + 1 + available // 4):
            status = (Code.Status.AVAILABLE if n < available else Code.Status.RESERVED).value
            codes.append(_code_row(rng=rng, plan=plan, code_id=ids.take("codes"), market_id=market_id, status=status))
    return codes
