"""Writes of campaign data: the deterministic demo dataset generator (PRODUCT §1)."""

from __future__ import annotations

import random
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import Group
from django.db import transaction

from campaigns.models import Campaign, Code, Entry, Fan, Market, Promoter, ScoringRecord, SmsWave

ProgressCallback = Callable[[int, int], None]

# Rows per bulk insert and per transaction: big enough to amortise, small enough for flat memory.
BATCH_SIZE = 5000
AWKWARD_EVERY = 20  # 1 row in 20 (5%) carries an awkward value, rotating through AWKWARD

CITIES = (  # city, state, country, venue, latitude, longitude
    ("New York", "NY", "US", "Madison Square Garden", 40.7505, -73.9934),
    ("Los Angeles", "CA", "US", "Crypto.com Arena", 34.0430, -118.2673),
    ("Chicago", "IL", "US", "United Center", 41.8807, -87.6742),
    ("Austin", "TX", "US", "Moody Center", 30.2820, -97.7320),
    ("Toronto", "ON", "CA", "Scotiabank Arena", 43.6435, -79.3791),
    ("Montréal", "QC", "CA", "Centre Bell", 45.4961, -73.5693),
    ("Mexico City", "CDMX", "MX", "Palacio de los Deportes", 19.4053, -99.0953),
    ("Monterrey", "NL", "MX", "Arena Monterrey", 25.6795, -100.2870),
    ("London", "", "GB", "The O2", 51.5030, 0.0032),
    ("Manchester", "", "GB", "AO Arena", 53.4880, -2.2446),
    ("Dublin", "", "IE", '3Arena "The Point"', 53.3474, -6.2285),
    ("Berlin", "BE", "DE", "Uber Arena", 52.5053, 13.4432),
    ("Köln", "NW", "DE", "LANXESS arena", 50.9384, 6.9830),
    ("Sydney", "NSW", "AU", "Qudos Bank Arena", -33.8468, 151.0657),
    ("Melbourne", "VIC", "AU", "Rod Laver Arena", -37.8216, 144.9785),
    ("Auckland", "AUK", "NZ", "Spark Arena", -36.8475, 174.7860),
)
LOCALES = {
    "US": ("en-us",),
    "CA": ("en-ca", "fr-ca"),
    "MX": ("es-mx", "en-mx"),
    "GB": ("en-gb", "en-uk"),
    "IE": ("en-ie",),
    "DE": ("de-de",),
    "AU": ("en-au",),
    "NZ": ("en-nz",),
}
PHONE_PREFIXES = {
    "US": "+1212555",
    "CA": "+1416555",
    "MX": "+52551234",
    "GB": "+44770090",
    "IE": "+35385123",
    "DE": "+491511234",
    "AU": "+6141234",
    "NZ": "+642112",
}  # + 4 digits
POSTAL_CODES = {
    "US": ("10001", "90012", "60612", "78701", "02134"),
    "CA": ("M5V 2T6", "H3B 5E8", "V6B 1A1"),
    "MX": ("06600", "64000", "44100"),
    "GB": ("SW1A 1AA", "M1 1AE", "EC1A 1BB"),
    "IE": ("D02 X285", "D01 F5P2"),
    "DE": ("10115", "50667", "80331"),
    "AU": ("2000", "3000"),
    "NZ": ("1010", "6011"),
}
FIRST_NAMES = (
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Mateo",
    "Sofía",
    "Lucas",
    "Chloé",
    "Jack",
    "Mia",
    "Oliver",
    "Hannah",
    "Finn",
    "Aroha",
    "Ciara",
    "Leon",
    "Amelia",
    "Diego",
    "Grace",
)
LAST_NAMES = (
    "Smith",
    "Johnson",
    "García",
    "Martínez",
    "Tremblay",
    "Roy",
    "Hernández",
    "Brown",
    "Murphy",
    "Kelly",
    "Müller",
    "Schmidt",
    "Wilson",
    "Taylor",
    "Ngata",
    "O'Connor",
    "Nguyen",
    "Lee",
)
SLUGS = {
    name: unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().replace("'", "").lower()
    for name in FIRST_NAMES + LAST_NAMES
}
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example")
AWKWARD = (  # first name, last name, e-mail: one kind per row, in rotation
    ("Anne, Marie", "Smith, Jr.", '"anne,marie"@example.com'),
    ('Robert "Bobby"', 'O"Brien', '"bobby"@example.com'),
    ("Tab\tFirst", "Tab\tLast", "tab\tuser@example.com"),
    ("Line\nBreak", "Two\nLines", "new\nline@example.com"),
    ("Carriage\rReturn", "Windows\r\nLine", "cr\r@example.com"),
    ("Zoë", "Ñúñez", "zoë.ñúñez@exämple.com"),
    ("太郎", "山田 太郎", "yamada@例え.jp"),
    ("Ὀδυσσεύς", "Λαερτιάδης", "odysseus@example.gr"),
    ("Rock 🎸", "Star 🌟", "rock🎸@example.com"),
    ('=HYPERLINK("http://x")', "@SUM(1+1)", "=cmd@example.com"),
    ("+cmd", "-2+3", "+1@example.com"),
    ("@handle", "=1+2", "-dash@example.com"),
    ("", "", ""),
)
CAMPAIGN_NAMES = (  # artist, tour
    ("Taylor Nova", "The Midnight Eras Tour"),
    ("Los Tigres del Sol", 'Gira "Fuego, Vivo" 2025'),
    ("Zoë & The Ñandús", "Über Alles Tour"),
    ("山田バンド", "World Tour 🌏"),
    ("The Commas, Inc.", "=Tour() Live"),
)
PROMOTER_NAMES = (
    "Live Nation",
    "AEG Presents",
    "OCESA",
    "MCD Productions",
    "Frontier Touring",
    "Eventim Live",
    'Promotora "Sol", S.A.',
    "Goldenvoice",
)
PREFERENCES = (  # id, type, is_optional, {locale: label}
    (
        "favorite_song",
        "select",
        False,
        {"en-us": "Favorite song", "fr-ca": "Chanson préférée", "es-mx": "Canción favorita", "de-de": "Lieblingssong"},
    ),
    (
        "seen_live",
        "checkbox",
        True,
        {"en-us": "I have seen them live before", "fr-ca": "Je les ai déjà vus", "es-mx": "Ya los he visto en vivo"},
    ),
    ("ticket_count", "select", False, {"en-us": "How many tickets?", "de-de": "Wie viele Tickets?"}),
    ("why_you", "text", True, {"en-us": 'Why should we pick you, "superfan"?', "fr-ca": "Pourquoi vous?"}),
    ("accessible_seating", "checkbox", True, {"en-us": "I need accessible seating", "en-gb": "Accessible seating"}),
    ("merch_size", "select", True, {"en-us": "T-shirt size", "es-mx": "Talla de camiseta"}),
)
SELECT_OPTIONS = {
    "favorite_song": ("Anti-Hero", "Cruel Summer", "Love Story", "Shake It Off"),
    "ticket_count": ("1", "2", "4"),
    "merch_size": ("S", "M", "L", "XL"),
}
TEXT_ANSWERS = ("Since day one!", "My daughter loves you", "Saw you in 2019, best night ever", "")


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
    """One campaign being filled: ids of its parts and running counters."""

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
    ranks: Counter = field(default_factory=Counter)


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
    rng, counts = random.Random(seed), Counter()
    sizes = _campaign_sizes(campaigns=campaigns, entries=entries)
    fan_count, total = max(sizes), max(sizes) + entries
    report = progress or (lambda done, total: None)
    plans = _campaigns_create(rng=rng, sizes=sizes, fan_count=fan_count, access_group=access_group, counts=counts)
    fan_ids = _fans_create(rng=rng, count=fan_count, counts=counts, report=lambda done: report(done, total))
    done = fan_count
    for plan in plans:
        for start in range(0, plan.size, BATCH_SIZE):
            stop = min(start + BATCH_SIZE, plan.size)
            with transaction.atomic():
                _entry_batch_create(rng=rng, plan=plan, fan_ids=fan_ids, start=start, stop=stop, counts=counts)
            done += stop - start
            report(done, total)
        _code_pool_create(rng=rng, plan=plan, counts=counts)
    return DemoSummary(**counts)


class _Draft:
    """An unsaved entry plus what is linked to it once it has an id."""

    __slots__ = ("entry", "additional", "promoters", "score", "selected", "sms_wave_id")

    def __init__(
        self, entry: Entry, additional: list[int], promoters: list[int], score: float | None, sms_wave_id: int | None
    ) -> None:
        self.entry, self.additional, self.promoters, self.score = entry, additional, promoters, score
        self.selected = score is not None and score >= 70  # about 30% of the scored entries
        self.sms_wave_id = sms_wave_id


def _campaign_sizes(*, campaigns: int, entries: int) -> list[int]:
    # 70% in the first campaign so one big export is possible; the rest shared evenly.
    if campaigns == 1:
        return [entries]
    rest = entries * 3 // 10 // (campaigns - 1)
    return [entries - rest * (campaigns - 1)] + [rest] * (campaigns - 1)


def _campaigns_create(
    *, rng: random.Random, sizes: list[int], fan_count: int, access_group: str | None, counts: Counter
) -> list[_Plan]:
    group = Group.objects.get_or_create(name=access_group)[0] if access_group else None
    promoters = Promoter.objects.bulk_create([Promoter(name=name) for name in PROMOTER_NAMES])
    plans = []
    with transaction.atomic():
        for index, size in enumerate(sizes):
            campaign = _campaign_create(rng=rng, index=index, count=len(sizes))
            if group:
                campaign.access_groups.add(group)
            last = index == len(sizes) - 1 and index > 0  # the one campaign without promoters
            promoter_ids = [] if last else [p.pk for p in rng.sample(promoters, rng.randint(2, 3))]
            campaign.promoters.add(*promoter_ids)
            fan_offset = index * fan_count // len(sizes)
            plans.append(
                _plan_create(
                    rng=rng,
                    campaign=campaign,
                    size=size,
                    fan_offset=fan_offset,
                    index=index,
                    promoter_ids=promoter_ids,
                    blank_market=index == len(sizes) - 1,
                )
            )
    counts.update(
        campaigns=len(plans),
        promoters=len(promoters),
        sms_waves=2 * len(plans),
        markets=sum(len(plan.markets) for plan in plans),
    )
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
    *,
    rng: random.Random,
    campaign: Campaign,
    size: int,
    fan_offset: int,
    index: int,
    promoter_ids: list[int],
    blank_market: bool,
) -> _Plan:
    start = datetime(2025, 1, 6, 15, tzinfo=UTC) + timedelta(days=30 * index)
    cities = rng.sample(CITIES, rng.randint(3, 8))
    markets = Market.objects.bulk_create(
        [
            Market(
                campaign=campaign,
                name=f"{city}, {state or country}",
                city=city,
                state=state,
                country=country,
                venue_name=venue,
                event_date=start.date() + timedelta(days=60 + 2 * n),
                event_ids=[f"{rng.getrandbits(64):016X}" for _ in range(rng.randint(1, 3))],
            )
            for n, (city, state, country, venue, _, _) in enumerate(cities)
        ]
    )
    if blank_market:  # one market with no event date and no event ids
        Market.objects.filter(pk=markets[-1].pk).update(event_date=None, event_ids=[])
    days = [start.replace(hour=0) + timedelta(days=21 + 7 * n) for n in range(rng.randint(2, 3))]
    sms_waves = SmsWave.objects.bulk_create(
        [SmsWave(campaign=campaign, scheduled_at=start + timedelta(days=20)), SmsWave(campaign=campaign)]
    )
    return _Plan(
        campaign_id=campaign.pk,
        size=size,
        fan_offset=fan_offset,
        start=start,
        preferences=campaign.preferences,
        markets=[(m.pk, c[2], c[4], c[5]) for m, c in zip(markets, cities, strict=True)],
        promoter_ids=promoter_ids,
        waves=[(str(int(day.timestamp()) * 1000), day) for day in days],
        sms_wave_ids=(sms_waves[0].pk, sms_waves[1].pk),
        code_salt=rng.getrandbits(40),
    )


def _fans_create(*, rng: random.Random, count: int, counts: Counter, report: Callable[[int], None]) -> array:
    salt = rng.getrandbits(30)
    fan_ids = array("q")  # 8 bytes a fan instead of a model instance
    for start in range(0, count, BATCH_SIZE):
        fans = [_fan(rng=rng, index=index, salt=salt) for index in range(start, min(start + BATCH_SIZE, count))]
        with transaction.atomic():
            Fan.objects.bulk_create(fans)
        fan_ids.extend(fan.pk for fan in fans)
        report(len(fan_ids))
    counts["fans"] = count
    return fan_ids


def _fan(*, rng: random.Random, index: int, salt: int) -> Fan:
    # Blank fields come at fixed strides so every fallback rule is hit in small datasets too.
    country = CITIES[rng.randrange(len(CITIES))][2]
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    email = "" if index % 50 == 7 else f"{SLUGS[first]}.{SLUGS[last]}{index}@{rng.choice(EMAIL_DOMAINS)}"
    if index % 40 == 9:
        first = last = ""
    if index % AWKWARD_EVERY == 1:
        first, last, email = AWKWARD[index // AWKWARD_EVERY % len(AWKWARD)]
    return Fan(
        tm_id=f"{(salt + index * 48271) % 10**10:010d}",
        member_id="" if index % 45 == 4 else f"{(salt + index * 69621) % 10**9:09d}",
        global_user_id=f"{(salt + index * 0x9E3779B97F4A7C15) % 2**64:016x}",
        email=email,
        first_name=first,
        last_name=last,
        phone="" if index % 6 == 0 else f"{PHONE_PREFIXES[country]}{rng.randrange(1000, 10000)}",
        postal_code="" if index % 10 == 3 else rng.choice(POSTAL_CODES[country]),
    )


def _entry_batch_create(
    *, rng: random.Random, plan: _Plan, fan_ids: array, start: int, stop: int, counts: Counter
) -> None:
    drafts = [_entry_draft(rng=rng, plan=plan, fan_ids=fan_ids, index=index) for index in range(start, stop)]
    Entry.objects.bulk_create([draft.entry for draft in drafts])
    additional = Entry.additional_markets.through.objects.bulk_create(
        [
            Entry.additional_markets.through(entry_id=d.entry.pk, market_id=market_id)
            for d in drafts
            for market_id in d.additional
        ]
    )
    opt_ins = Entry.promoter_opt_ins.through.objects.bulk_create(
        [
            Entry.promoter_opt_ins.through(entry_id=d.entry.pk, promoter_id=promoter_id)
            for d in drafts
            for promoter_id in d.promoters
        ]
    )
    wave_fans = SmsWave.fans.through.objects.bulk_create(
        [SmsWave.fans.through(smswave_id=d.sms_wave_id, fan_id=d.entry.fan_id) for d in drafts if d.sms_wave_id]
    )
    counts.update(
        entries=len(drafts),
        additional_markets=len(additional),
        promoter_opt_ins=len(opt_ins),
        sms_wave_fans=len(wave_fans),
    )
    _scoring_create(rng=rng, plan=plan, drafts=[d for d in drafts if d.score is not None], counts=counts)


def _entry_draft(*, rng: random.Random, plan: _Plan, fan_ids: array, index: int) -> _Draft:
    fan_index = (plan.fan_offset + index) % len(fan_ids)  # distinct fans within a campaign
    market = rng.randrange(len(plan.markets))
    market_id, country, latitude, longitude = plan.markets[market]
    created = plan.start + timedelta(seconds=index * 1_209_600 // plan.size + rng.randrange(60))
    awkward = AWKWARD[index // AWKWARD_EVERY % len(AWKWARD)] if index % AWKWARD_EVERY == 11 else None
    fraud = None if rng.random() < 0.03 else round(rng.random(), 4)
    located = rng.random() >= 0.02
    entry = Entry(
        campaign_id=plan.campaign_id,
        fan_id=fan_ids[fan_index],
        market_id=market_id,
        created_at=created,
        locale=rng.choice(LOCALES[country]),
        answers=_answers(rng=rng, plan=plan, awkward=awkward),
        allow_marketing=rng.random() < 0.6,
        allow_livenation=rng.random() < 0.4,
        allow_promoter=rng.random() < 0.3,
        allow_sms=rng.random() < 0.35,
        ip_address=_ip_address(rng=rng),
        ip_postal_code="" if index % 7 == 2 else rng.choice(POSTAL_CODES[country]),
        latitude=round(latitude + rng.uniform(-0.3, 0.3), 5) if located else None,
        longitude=round(longitude + rng.uniform(-0.3, 0.3), 5) if located else None,
        fraud_score=fraud,
        score_band="" if fraud is None else "low" if fraud < 0.6 else "medium" if fraud < 0.85 else "high",
        fan_score=round(rng.random(), 3) if rng.random() < 0.9 else None,
        **_entry_contact(rng=rng, country=country, fan_index=fan_index, awkward=awkward, created=created),
    )
    others = [m for m in rng.sample(range(len(plan.markets)), min(3, len(plan.markets))) if m != market]
    additional = [plan.markets[m][0] for m in others[: rng.choice((0, 0, 1, 2))]]
    promoters = (
        rng.sample(plan.promoter_ids, rng.randint(1, len(plan.promoter_ids)))
        if entry.allow_promoter and plan.promoter_ids
        else []
    )
    score = None if fraud is None else round(rng.uniform(0, 100), 2)  # unscored entries have no record
    roll = rng.random()
    sms_wave_id = None if score is None or score >= 70 or roll >= 0.07 else plan.sms_wave_ids[roll >= 0.05]
    return _Draft(entry, additional, promoters, score, sms_wave_id)


def _entry_contact(
    *, rng: random.Random, country: str, fan_index: int, awkward: tuple[str, str, str] | None, created: datetime
) -> dict:
    # Entry-level values override the fan's; fans missing a value get one here more often.
    contact = {"email": "", "phone": "", "first_name": "", "last_name": "", "phone_confirmed_at": None}
    if rng.random() < (0.8 if fan_index % 50 == 7 else 0.3):
        contact["email"] = f"fan{fan_index}.entry@{EMAIL_DOMAINS[fan_index % len(EMAIL_DOMAINS)]}"
    if rng.random() < (0.7 if fan_index % 6 == 0 else 0.25):
        contact["phone"] = f"{PHONE_PREFIXES[country]}{rng.randrange(1000, 10000)}"
    if rng.random() < (0.9 if fan_index % 40 == 9 else 0.2):
        contact["first_name"], contact["last_name"] = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    if awkward:
        contact["first_name"], contact["last_name"], contact["email"] = awkward
    if (contact["phone"] or fan_index % 6) and rng.random() < 0.6:
        contact["phone_confirmed_at"] = created + timedelta(seconds=rng.randrange(30, 86_400))
    return contact


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


def _scoring_create(*, rng: random.Random, plan: _Plan, drafts: list[_Draft], counts: Counter) -> None:
    codes = Code.objects.bulk_create(
        [_code(rng=rng, plan=plan, market_id=d.entry.market_id, fan_id=d.entry.fan_id) for d in drafts if d.selected]
    )
    records = []
    for draft in drafts:
        plan.ranks[draft.entry.market_id] += 1  # rank = order of scoring within the market
        records.append(
            ScoringRecord(
                campaign_id=plan.campaign_id,
                fan_id=draft.entry.fan_id,
                market_id=draft.entry.market_id,
                score=draft.score,
                rank=plan.ranks[draft.entry.market_id],
                selected=draft.selected,
                locale=draft.entry.locale,
            )
        )
    ScoringRecord.objects.bulk_create(records)
    selected = [record for record in records if record.selected]
    links = ScoringRecord.codes.through.objects.bulk_create(
        [
            ScoringRecord.codes.through(scoringrecord_id=record.pk, code_id=code.pk)
            for record, code in zip(selected, codes, strict=True)
        ]
    )
    counts.update(codes=len(codes), scoring_records=len(records), scoring_codes=len(links))


def _code(
    *, rng: random.Random, plan: _Plan, market_id: int, fan_id: int | None = None, status: str = Code.Status.ASSIGNED
) -> Code:
    plan.codes_made += 1
    date_key, presale = plan.waves[rng.randrange(len(plan.waves))]
    assigned = fan_id is not None
    return Code(
        campaign_id=plan.campaign_id,
        market_id=market_id,
        date_key=date_key,
        status=status,
        value=f"{(plan.code_salt + plan.codes_made * 0x9E3779B1) % 2**40:010X}",  # odd multiplier: unique
        assigned_fan_id=fan_id,
        assigned_at=presale + timedelta(seconds=rng.randrange(86_400)) if assigned else None,
    )


def _code_pool_create(*, rng: random.Random, plan: _Plan, counts: Counter) -> None:
    # Unassigned stock per market: every market has codes, even one nobody entered.
    codes = []
    for market_id, *_ in plan.markets:
        available = 3 + plan.ranks[market_id] // 20
        codes += [
            _code(rng=rng, plan=plan, market_id=market_id, status=Code.Status.AVAILABLE) for _ in range(available)
        ]
        codes += [
            _code(rng=rng, plan=plan, market_id=market_id, status=Code.Status.RESERVED)
            for _ in range(1 + available // 4)
        ]
    with transaction.atomic():
        Code.objects.bulk_create(codes, batch_size=BATCH_SIZE)
    counts["codes"] += len(codes)
