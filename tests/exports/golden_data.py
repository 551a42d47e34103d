"""A small fixed dataset with awkward values; the golden files are its exact exports."""

from datetime import UTC, date, datetime

from campaigns.models import Campaign, Entry, Fan, Market

PREFERENCES = [
    {"id": "p1", "type": "checkbox", "is_optional": True, "label": {"en-us": "Send me news"}},
    {"id": "p2", "type": "select", "is_optional": False, "label": {"en-us": "Seat"}},
    {"id": "p3", "type": "text", "is_optional": True, "label": {"en-us": "Comment"}},
]


def golden_campaign(*, access_groups=()) -> Campaign:
    campaign = Campaign.objects.create(pk=9001, name='Tour "2027", Live', artist_name="Artïst", preferences=PREFERENCES)
    campaign.access_groups.add(*access_groups)
    chicago = Market.objects.create(
        pk=9101,
        campaign=campaign,
        name="Chicago",
        city="Chicago",
        state="IL",
        event_date=date(2027, 7, 4),
        event_ids=["EV1", "EV2"],
    )
    zurich = Market.objects.create(
        pk=9102,
        campaign=campaign,
        name="Zürich",
        city="Zürich",
        state="",
        country="CH",
        event_date=date(2027, 12, 31),
        event_ids=[],
    )
    paris = Market.objects.create(
        pk=9103,
        campaign=campaign,
        name="Paris TBA",
        city="Paris",
        state="",
        country="FR",
        event_date=None,
        event_ids=["=EV3"],
    )
    other = Campaign.objects.create(pk=9002, name="Other")
    other_market = Market.objects.create(pk=9104, campaign=other, name="Elsewhere", city="X", state="Y")

    plain = Fan.objects.create(
        pk=9201,
        tm_id="tm-1",
        member_id="M1",
        global_user_id="G1",
        email="plain@example.com",
        phone="+15550001111",
        postal_code="60601",
        first_name="Ann",
        last_name="Lee",
    )
    awkward = Fan.objects.create(
        pk=9202,
        tm_id="tm-2",
        member_id="M2",
        global_user_id="G2",
        email='=HYPERLINK("http://evil")',
        phone="",
        postal_code="SW1A 1AA",
        first_name="",
        last_name="",
    )
    unicode = Fan.objects.create(
        pk=9203,
        tm_id="tm-3",
        member_id="",
        global_user_id="G3",
        email="yamada@example.jp",
        phone="+1 (555) 010-9999",
        postal_code="",
        first_name="山田\n太郎",
        last_name="",
    )

    first = Entry.objects.create(
        pk=9301,
        campaign=campaign,
        fan=plain,
        market=chicago,
        locale="en-us",
        created_at=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        phone_confirmed_at=datetime(2026, 1, 2, 4, 0, tzinfo=UTC),
        phone="+15551234567",
        ip_address="203.0.113.9",
        ip_postal_code="10001",
        answers={"p1": True, "p2": "VIP, Floor", "p3": "=1+1"},
    )
    first.additional_markets.add(zurich, paris)
    Entry.objects.create(
        pk=9302,
        campaign=campaign,
        fan=awkward,
        market=zurich,
        locale="fr-ca",
        created_at=datetime(2026, 1, 3, 0, 0, 0, tzinfo=UTC),
        email="x@y.com",
        first_name='Zoë "Z"\tTab',
        last_name="O'Brien, Jr.",
        ip_address="-1.2.3.4",
        answers={},
    )
    third = Entry.objects.create(
        pk=9303,
        campaign=campaign,
        fan=unicode,
        market=paris,
        locale="ja-jp",
        created_at=datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC),
        last_name="@SUM(1+1)",
        ip_postal_code="",
        answers={"p1": False, "p2": ["A", "B"], "p3": "tab\there\r\nx"},
    )
    third.additional_markets.add(paris)  # its own primary market: no extra row
    Entry.objects.create(
        pk=9304, campaign=other, fan=plain, market=other_market, created_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    return campaign
