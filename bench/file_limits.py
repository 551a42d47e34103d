"""The COPY limits of the types that write several files (the reminder e-mails: one stream per SFMC
region; promoterEmailOptIn: one per promoter), as bench/type_limits.py's registry uses them."""

from __future__ import annotations

from bench.limit_sql import EMAIL, FIRST_NAME, LAST_NAME, TypeSkipped, one_line_sql

# --- the reminder e-mails -------------------------------------------------------------------------


def reminder_regions(campaign_id: int) -> list[tuple[int, ...]]:
    """The market ids of each SFMC region with selected fans, in the export's order: the export's
    own plan (exports/types/reminder_rows.py), so both write the same files."""
    from campaigns import selectors
    from campaigns.models import Campaign
    from exports.errors import ExportFailure
    from exports.types.reminder_rows import reminder_plan

    campaign = Campaign.objects.get(pk=campaign_id)
    try:
        plan = reminder_plan(campaign, upper_id=selectors.scoring_max_id(campaign_id=campaign_id))
    except ExportFailure as exc:
        raise TypeSkipped(f"the reminder plan fails: {exc}") from exc
    if not plan.regions:
        raise TypeSkipped("the campaign has no selected fans")
    return [region.market_ids for region in plan.regions]


def reminder_sql(campaign_id: int, *, per_region: int | None = None, **_: object) -> str:
    """Selected records with fan, entry, market, campaign and the code for the record's market
    (the newest, as selectors.codes_for_market), one stream per region in id order (at most
    `per_region` rows each: the sample). The SFMC mid and region are left out: both are
    derived from the market's country, which is in."""
    limit = f" LIMIT {int(per_region)}" if per_region else ""
    parts = [
        one_line_sql(
            "(SELECT {email}, {first}, {last}, s.locale, f.member_id, c.artist_name, s.campaign_id, c.name, "
            "s.market_id, m.name, m.city, m.state, m.country, m.event_date, m.venue_name, "
            "(SELECT k.value FROM {record_codes} rc JOIN {code} k ON k.id = rc.code_id "
            "WHERE rc.scoringrecord_id = s.id AND k.market_id = s.market_id ORDER BY rc.code_id DESC LIMIT 1) "
            "FROM {record} s JOIN {fan} f ON f.id = s.fan_id JOIN {market} m ON m.id = s.market_id "
            "JOIN {campaign} c ON c.id = s.campaign_id "
            "LEFT JOIN {entry} e ON e.campaign_id = {campaign_id} AND e.fan_id = s.fan_id "
            "WHERE s.campaign_id = {campaign_id} AND s.selected AND s.market_id IN ({markets}) "
            "ORDER BY s.id{limit})",
            campaign_id=int(campaign_id),
            markets=", ".join(str(int(pk)) for pk in market_ids),
            limit=limit,
            email=EMAIL,
            first=FIRST_NAME,
            last=LAST_NAME,
        )
        for market_ids in reminder_regions(campaign_id)
    ]
    return " UNION ALL ".join(parts)


def reminder_sample_sql(campaign_id: int, *, body: dict, **_: object) -> str:
    from exports.types.reminder_email import DEFAULT_SAMPLE_SIZE

    return reminder_sql(campaign_id, per_region=body.get("sampleSize") or DEFAULT_SAMPLE_SIZE)


# --- promoterEmailOptIn ---------------------------------------------------------------------------


def promoter_sql(campaign_id: int, **_: object) -> str:
    """Per promoter of the campaign (id order): the campaign's entries linked to it that also
    carry the general promoter opt-in, in entry id order."""
    from campaigns import selectors

    promoters = selectors.campaign_promoters(campaign_id=campaign_id)
    if not promoters:
        raise TypeSkipped("the campaign has no promoters")
    parts = [
        one_line_sql(
            "(SELECT {email}, {first}, {last}, COALESCE(NULLIF(e.ip_postal_code, ''), f.postal_code), e.locale, "
            "m.name, p.name, e.created_at FROM {entry} e JOIN {entry_promoters} po ON po.entry_id = e.id "
            "JOIN {promoter} p ON p.id = po.promoter_id JOIN {fan} f ON f.id = e.fan_id "
            "JOIN {market} m ON m.id = e.market_id WHERE e.campaign_id = {campaign_id} AND e.allow_promoter "
            "AND po.promoter_id = {promoter_id} ORDER BY e.id)",
            campaign_id=int(campaign_id),
            promoter_id=int(promoter.pk),
            email=EMAIL,
            first=FIRST_NAME,
            last=LAST_NAME,
        )
        for promoter in promoters
    ]
    return " UNION ALL ".join(parts)
