"""A small fixed dataset for the entry-, code- and scoring-based exports (opt-ins, scoring,
codes, code waves, code assignments, verified entries, fan list, waitlist), full of awkward
values. Primary keys are explicit (95xx) so golden files are stable on every database.

What each row is for:
- entries 9531-9536 (campaign 9501) + 9539 (other campaign): opt-in flags chosen so each opt-in
  type keeps a different subset (artistOptIn: 9531, 9533; artistSmsOptIn: 9531 entry phone,
  9533 fan phone, not 9532 with no phone anywhere; livenationOptIn: 9532, 9534).
- codes 9541-9545 (+ 9549 elsewhere): two waves, one code without wave, an assigned code whose
  fan is gone; assigned = 9541, 9543, 9545.
- scoring records 9551-9558 (+ 9559 elsewhere) and SMS waves 9561-9563: the waitlist keeps the
  unselected records 9552, 9553, 9555, 9556, 9557 and drops 9554 (fan 9525 is in the scheduled
  wave 9561); 9555's fan is only in an unscheduled wave, 9552's fan only in another campaign's.
- fan 9527 has a scoring record but no entry: in the waitlist, not in verifiedEntries.
"""

from datetime import UTC, date, datetime

from campaigns.models import Campaign, Code, Entry, Fan, Market, ScoringRecord, SmsWave

WAVE_1 = "1673740800000"
WAVE_2 = "1676419200000"
PREFERENCES = [{"id": "q1", "type": "checkbox", "is_optional": True, "label": {"en-us": "News"}}]


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, microsecond: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


def rows_campaign(*, access_groups=()) -> Campaign:
    campaign = Campaign.objects.create(
        pk=9501, name='=Rows, "Tour" 2027', artist_name="Artïst", preferences=PREFERENCES
    )
    campaign.access_groups.add(*access_groups)
    other = Campaign.objects.create(pk=9502, name="Other rows")
    markets = _markets(campaign, other)
    fans = _fans()
    _entries(campaign, other, markets, fans)
    _codes(campaign, other, markets, fans)
    _scoring(campaign, other, markets, fans)
    return campaign


def _markets(campaign: Campaign, other: Campaign) -> dict[int, Market]:
    chicago = Market.objects.create(
        pk=9511,
        campaign=campaign,
        name="Chicago, IL",
        city="Chicago",
        state="IL",
        event_date=date(2027, 7, 4),
        event_ids=["EV1", "EV2"],
    )
    zurich = Market.objects.create(
        pk=9512, campaign=campaign, name="Zürich", city="Zürich", country="CH", event_date=date(2027, 12, 31)
    )
    paris = Market.objects.create(
        pk=9513,
        campaign=campaign,
        name='=HYPERLINK("x") "Paris"',
        city="Paris",
        country="FR",
        event_date=None,
        event_ids=["-EV3", "@EV4"],
    )
    elsewhere = Market.objects.create(pk=9514, campaign=other, name="Elsewhere", city="X", state="Y")
    return {market.pk: market for market in (chicago, zurich, paris, elsewhere)}


def _fans() -> dict[int, Fan]:
    specs = [
        (9521, "tm-1", "M1", "G1", "ann@example.com", "+15550001111", "60601", "Ann", "Lee"),
        (9522, "=tm2", "+M2", "-G2", "@mention@example.com", "", "SW1A 1AA", "", ""),
        (9523, "tm-3", "M3", "G3", "yamada@example.jp", "+1 (555) 010-9999", "", "山田\n太郎", 'O\'Brien, "Jr"'),
        (9524, "tm-4", "M4", "G4", "", "+447700900123", "75001", "Tab\there", "-dash"),
        (9525, "tm-5", "M5", "G5", "waved@example.com", "+15550005555", "10001", "Wave", "Scheduled"),
        (9526, "tm-6", "M6", "G6", "draft@example.com", "", "", "Draft", "Wave"),
        (9527, "tm-7", "M7", "G7", "@noentry@example.com", "+15550007777", "", "No", "Entry"),
    ]
    fans = {}
    for pk, tm_id, member_id, global_user_id, email, phone, postal_code, first, last in specs:
        fans[pk] = Fan.objects.create(
            pk=pk,
            tm_id=tm_id,
            member_id=member_id,
            global_user_id=global_user_id,
            email=email,
            phone=phone,
            postal_code=postal_code,
            first_name=first,
            last_name=last,
        )
    return fans


def _entries(campaign: Campaign, other: Campaign, markets: dict, fans: dict) -> None:
    first = Entry.objects.create(
        pk=9531,
        campaign=campaign,
        fan=fans[9521],
        market=markets[9511],
        locale="en-us",
        created_at=_utc(2026, 1, 2, 3, 4, 5, 123456),
        phone_confirmed_at=_utc(2026, 1, 2, 4, 0),
        phone="+15551234567",
        ip_address="203.0.113.9",
        ip_postal_code="10001",
        answers={"q1": True},
        allow_marketing=True,
        allow_sms=True,
        latitude=41.8781,
        longitude=-87.6298,
        fraud_score=0.25,
        score_band="LOW",
        fan_score=87.5,
    )
    first.additional_markets.add(markets[9512], markets[9513])
    Entry.objects.create(
        pk=9532,
        campaign=campaign,
        fan=fans[9522],
        market=markets[9512],
        locale="fr-ca",
        created_at=_utc(2026, 1, 3),
        email="x@y.com",
        first_name='Zoë "Z"\tTab',
        last_name="O'Brien, Jr.",
        ip_address="-1.2.3.4",
        allow_sms=True,  # no phone on the entry or the fan: not an SMS opt-in
        allow_livenation=True,
        fraud_score=900.0,
        score_band="=HIGH",
    )
    third = Entry.objects.create(
        pk=9533,
        campaign=campaign,
        fan=fans[9523],
        market=markets[9513],
        locale="ja-jp",
        created_at=_utc(2026, 2, 28, 23, 59, 59, 999999),
        first_name="Entry first",
        answers={"q1": "=1+1"},
        allow_marketing=True,
        allow_sms=True,  # the fan's phone counts
        latitude=-33.8688,
        longitude=151.2093,
        fraud_score=0.5,
        score_band="MEDIUM, mid",
        fan_score=12.0,
    )
    third.additional_markets.add(markets[9513], markets[9511])
    Entry.objects.create(
        pk=9534,
        campaign=campaign,
        fan=fans[9524],
        market=markets[9511],
        locale="en-gb",
        created_at=_utc(2026, 3, 1, 12, 0),
        first_name="Entry first",
        last_name="Entry last",
        ip_postal_code="",
        allow_livenation=True,
    )
    Entry.objects.create(
        pk=9535, campaign=campaign, fan=fans[9525], market=markets[9511], created_at=_utc(2026, 3, 2), locale="en-us"
    )
    Entry.objects.create(
        pk=9536,
        campaign=campaign,
        fan=fans[9526],
        market=markets[9512],
        created_at=_utc(2026, 3, 3),
        locale="de-ch",
        email="=entry@example.com",
        allow_marketing=False,
    )
    Entry.objects.create(
        pk=9539,
        campaign=other,
        fan=fans[9521],
        market=markets[9514],
        created_at=_utc(2026, 1, 1),
        allow_marketing=True,
        allow_livenation=True,
        allow_sms=True,
    )


def _codes(campaign: Campaign, other: Campaign, markets: dict, fans: dict) -> None:
    specs = [
        (9541, campaign, 9511, "ABC,123", WAVE_1, Code.Status.ASSIGNED, 9521, _utc(2026, 3, 1, 10, 0, 0, 500000)),
        (9542, campaign, 9513, "=CODE()", WAVE_1, Code.Status.AVAILABLE, None, None),
        (9543, campaign, 9512, '"quoted"\ncode', WAVE_2, Code.Status.ASSIGNED, 9522, _utc(2026, 3, 2, 0, 0)),
        (9544, campaign, 9511, "-CODE\t4", "", Code.Status.RESERVED, 9523, None),
        (9545, campaign, 9513, "ünï+", WAVE_1, Code.Status.ASSIGNED, None, _utc(2026, 3, 3, 8, 30)),
        (9549, other, 9514, "OTHER", WAVE_1, Code.Status.ASSIGNED, 9521, _utc(2026, 3, 1)),
    ]
    for pk, owner, market_id, value, date_key, status, fan_id, assigned_at in specs:
        Code.objects.create(
            pk=pk,
            campaign=owner,
            market=markets[market_id],
            value=value,
            date_key=date_key,
            status=status,
            assigned_fan=fans[fan_id] if fan_id else None,
            assigned_at=assigned_at,
        )


def _scoring(campaign: Campaign, other: Campaign, markets: dict, fans: dict) -> None:
    specs = [
        (9551, campaign, 9521, 9511, 99.5, 1, True, "en-us"),
        (9552, campaign, 9522, 9512, 50.0, 2, False, "fr-ca"),
        (9553, campaign, 9523, 9513, 10.25, None, False, ""),
        (9554, campaign, 9525, 9511, 40.0, 4, False, "en-us"),
        (9555, campaign, 9526, 9512, 30.0, 5, False, "de-ch"),
        (9556, campaign, 9527, 9511, 20.0, 6, False, "en-us"),
        (9557, campaign, 9521, 9512, 15.0, 7, False, "en-us"),
        (9558, campaign, 9524, 9511, 88.0, 3, True, "en-gb"),
        (9559, other, 9525, 9514, 1.0, 1, False, "en-us"),
    ]
    for pk, owner, fan_id, market_id, score, rank, selected, locale in specs:
        ScoringRecord.objects.create(
            pk=pk,
            campaign=owner,
            fan=fans[fan_id],
            market=markets[market_id],
            score=score,
            rank=rank,
            selected=selected,
            locale=locale,
        )
    scheduled = SmsWave.objects.create(pk=9561, campaign=campaign, scheduled_at=_utc(2026, 4, 1, 9, 0))
    scheduled.fans.add(fans[9525])
    draft = SmsWave.objects.create(pk=9562, campaign=campaign, scheduled_at=None)
    draft.fans.add(fans[9526])
    elsewhere = SmsWave.objects.create(pk=9563, campaign=other, scheduled_at=_utc(2026, 4, 1))
    elsewhere.fans.add(fans[9522], fans[9526])
