"""A small fixed dataset for the reminder e-mail and promoter opt-in exports, full of awkward
values; the golden files under golden/<type>/ are its exact exports. Primary keys are in the
8xxx range so they never meet other test data.

Campaign 8001 (fan club, not LNAA): selected fans in NA (US, CA, MX), UK (GB, IE), DE and AU,
unselected ones in US and CH (CH has no SFMC account, but no selected fan there either).
Campaign 8002 (LNAA, fan-club name containing the artist): NA (→ LNE) and UK.
Campaign 8003: another campaign whose rows must never appear.
"""

from datetime import UTC, date, datetime

from campaigns.models import Campaign, Code, Entry, Fan, Market, Promoter, ScoringRecord

REMINDER_CAMPAIGN_ID = 8001
LNAA_CAMPAIGN_ID = 8002
OTHER_CAMPAIGN_ID = 8003


def _market(pk, campaign, name, city, state, country, event_date, venue):
    return Market.objects.create(
        pk=pk,
        campaign=campaign,
        name=name,
        city=city,
        state=state,
        country=country,
        event_date=event_date,
        event_ids=[f"EV{pk}"],
        venue_name=venue,
    )


def _fan(pk, email, first, last, member_id=None, postal_code=""):
    return Fan.objects.create(
        pk=pk,
        tm_id=f"tm{pk}",
        member_id=member_id if member_id is not None else f"M{pk}",
        global_user_id=f"G{pk}",
        email=email,
        first_name=first,
        last_name=last,
        postal_code=postal_code,
    )


def _record(pk, campaign, fan, market, *, selected=True, locale="en-us", codes=()):
    record = ScoringRecord.objects.create(
        pk=pk, campaign=campaign, fan=fan, market=market, selected=selected, locale=locale, score=1.5, rank=pk
    )
    record.codes.add(*codes)
    return record


def _code(pk, campaign, market, value, fan):
    return Code.objects.create(
        pk=pk,
        campaign=campaign,
        market=market,
        value=value,
        status=Code.Status.ASSIGNED,
        assigned_fan=fan,
        assigned_at=datetime(2026, 3, 1, tzinfo=UTC),
    )


def reminder_campaigns(*, access_groups=()) -> dict:
    """Create the dataset; returns the campaigns by name."""
    main = Campaign.objects.create(
        pk=REMINDER_CAMPAIGN_ID,
        name='Summer, "Live" 2027',
        artist_name='Zoë "Z", The Band',
        is_fan_club=True,
        fan_club_name="Friends\tof the Band",
    )
    lnaa = Campaign.objects.create(
        pk=LNAA_CAMPAIGN_ID,
        name="=LNAA Tour",
        artist_name="Mötley Crüe",
        is_fan_club=True,
        fan_club_name="Official MÖTLEY CRÜE Fan Club",
        is_lnaa=True,
    )
    other = Campaign.objects.create(pk=OTHER_CAMPAIGN_ID, name="Other", artist_name="Other Artist")
    for campaign in (main, lnaa, other):
        campaign.access_groups.add(*access_groups)

    chicago = _market(8101, main, "Chicago", "Chicago", "IL", "US", date(2027, 7, 4), 'United "Center"')
    toronto = _market(8102, main, "Toronto, ON", "Toronto", "ON", "CA", date(2027, 7, 9), "Scotiabank Arena")
    mexico = _market(8103, main, "Ciudad de México", "Ciudad de México", "CDMX", "mx", None, "=Foro Sol")
    london = _market(8104, main, "London\nO2", "London", "", "GB", date(2027, 8, 1), "The O2")
    dublin = _market(8105, main, "Dublin", "Dublin", "", "IE", date(2027, 8, 3), "3Arena")
    berlin = _market(8106, main, "Berlin", "Berlin", "", "DE", date(2027, 9, 1), "Mercedes-Benz Arena")
    sydney = _market(8107, main, "Sydney", "Sydney", "NSW", "AU", date(2027, 12, 31), "@Qudos Bank Arena")
    zurich = _market(8108, main, "Zürich", "Zürich", "", "CH", date(2027, 10, 1), "Hallenstadion")
    austin = _market(8111, lnaa, "Austin", "Austin", "TX", "US", date(2027, 5, 1), "Moody Center")
    glasgow = _market(8112, lnaa, "Glasgow", "Glasgow", "", "GB", date(2027, 5, 20), "OVO Hydro")
    elsewhere = _market(8121, other, "Elsewhere", "X", "Y", "US", date(2027, 1, 1), "Nowhere")

    ann = _fan(8201, "ann@example.com", "Ann", "Lee", postal_code="60601")
    zoe = _fan(8202, '=HYPERLINK("http://evil")', 'Zoë "Z"\tTab', "O'Brien, Jr.", postal_code="SW1A 1AA")
    yamada = _fan(8203, "yamada@example.jp", "山田\n太郎", "")
    plus = _fan(8204, "plus+tag@example.com", "+Plus", "-Minus")
    cmd = _fan(8205, "cmd@example.com", "=cmd|' /C calc'!A0", "Smith", member_id="=M8205")
    sean = _fan(8206, "sean@example.ie", "Seán", "Ó Briain")
    jurgen = _fan(8207, "jurgen@example.de", "Jürgen", "Groß")
    olivia = _fan(8208, "liv@example.com.au", "Olivia", "Newton")
    carlos = _fan(8209, "carlos@example.mx", "Carlos", "Peña, Jr.")
    blank = _fan(8210, "blank@example.com", "", "")
    texan = _fan(8211, "tex@example.com", "Tex", "Ranger")
    scot = _fan(8212, "scot@example.co.uk", "Morag", "MacLeod")
    swiss = _fan(8213, "swiss@example.ch", "Heidi", "Alp")
    waiting = _fan(8214, "wait@example.com", "Wait", "Ing")

    def code(pk, campaign, market, value, fan):
        return _code(pk, campaign, market, value, fan)

    _record(8501, main, ann, chicago, codes=[code(8301, main, chicago, "PRESALE-1", ann)])
    _record(8502, main, zoe, london, locale="en-uk", codes=[code(8302, main, london, "=CODE,2", zoe)])
    _record(8503, main, yamada, toronto, locale="fr_CA", codes=[code(8303, main, toronto, 'Q"3', yamada)])
    _record(8504, main, plus, mexico, locale="en-mx", codes=[code(8304, main, mexico, "+MX4", plus)])
    _record(8505, main, cmd, dublin, locale="en-ie", codes=[code(8305, main, dublin, "@IE5", cmd)])
    # Two codes for the record's market (the newest wins) and one for another market (ignored).
    _record(
        8506,
        main,
        sean,
        chicago,
        locale="EN-US",
        codes=[
            code(8306, main, chicago, "OLD-6", sean),
            code(8307, main, chicago, "NEW-6", sean),
            code(8308, main, london, "WRONG-6", sean),
        ],
    )
    _record(8507, main, jurgen, berlin, locale="de-de", codes=[code(8309, main, berlin, "DE\t7", jurgen)])
    _record(8508, main, olivia, sydney, locale="en-nz", codes=[code(8310, main, sydney, "AU-8", olivia)])
    _record(8509, main, carlos, mexico, locale="es-mx", codes=[code(8311, main, mexico, "MX-9", carlos)])
    _record(8510, main, blank, toronto, locale="", codes=[code(8312, main, toronto, "CA-10", blank)])
    _record(8511, main, swiss, zurich, selected=False)
    _record(8512, main, waiting, chicago, selected=False)
    _record(8513, main, ann, london, locale="en-gb", codes=[code(8313, main, london, "GB-13", ann)])

    _record(8521, lnaa, texan, austin, codes=[code(8321, lnaa, austin, "LN-1", texan)])
    _record(8522, lnaa, scot, glasgow, locale="en-uk", codes=[code(8322, lnaa, glasgow, "LN-2", scot)])
    _record(8523, lnaa, ann, austin, selected=False)

    _record(8531, other, ann, elsewhere, codes=[code(8331, other, elsewhere, "OTHER-1", ann)])

    _promoters_and_entries(main, other, fans=[ann, zoe, yamada, plus, cmd, blank], markets=[chicago, london, elsewhere])
    return {"main": main, "lnaa": lnaa, "other": other}


def _promoters_and_entries(main, other, *, fans, markets):
    ann, zoe, yamada, plus, cmd, blank = fans
    chicago, london, elsewhere = markets
    toronto, mexico, dublin = (Market.objects.get(pk=pk) for pk in (8102, 8103, 8105))
    live = Promoter.objects.create(pk=8601, name="Live Nation, Inc.")
    formula = Promoter.objects.create(pk=8602, name="=Promo+Co")
    nobody = Promoter.objects.create(pk=8603, name="Ünïcode Promoter")
    foreign = Promoter.objects.create(pk=8604, name="Other campaign's promoter")
    main.promoters.add(live, formula, nobody)
    other.promoters.add(live, foreign)

    def entry(pk, campaign, fan, market, created, *, allow_promoter=True, opt_ins=(), **fields):
        created_at = datetime(*created).replace(tzinfo=UTC)
        row = Entry.objects.create(
            pk=pk,
            campaign=campaign,
            fan=fan,
            market=market,
            created_at=created_at,
            allow_promoter=allow_promoter,
            **fields,
        )
        row.promoter_opt_ins.add(*opt_ins)

    entry(8401, main, ann, chicago, (2026, 1, 2, 3, 4, 5, 123456), opt_ins=[live, formula], ip_postal_code="10001")
    entry(
        8402, main, zoe, london, (2026, 1, 3), opt_ins=[live], email="x@y.com", first_name="Entry Zoë", locale="en-gb"
    )
    entry(8403, main, yamada, toronto, (2026, 1, 4), opt_ins=[formula], last_name="@SUM(1+1)", locale="ja-jp")
    # Linked to a promoter but without the general promoter opt-in: never exported.
    entry(8404, main, plus, mexico, (2026, 1, 5), allow_promoter=False, opt_ins=[live])
    entry(8405, main, cmd, dublin, (2026, 1, 6), opt_ins=[])
    entry(
        8406,
        main,
        blank,
        toronto,
        (2026, 2, 28, 23, 59, 59, 999999),
        opt_ins=[live, foreign],
        first_name="Entry\r\nFirst",
        last_name="Entry Last",
        email="+entry@example.com",
        locale="fr-ca",
    )
    entry(8411, other, ann, elsewhere, (2026, 1, 1), opt_ins=[live])
