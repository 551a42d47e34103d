"""Each export type's own COPY limit: a `SELECT` of the same rows as the export, with the same joins
and conditions, giving raw column values (no formatting expressions: no formula guard, no
timestamp or number formatting, no lookups). The fallbacks between the entry's and the fan's
values are kept (`COALESCE(NULLIF(first, ''), second)`, as the entries limit has always done):
they choose which raw value a cell holds.

Raw SQL on purpose: the limit is what PostgreSQL can do without the product. The row sets follow
the selectors each type reads (campaigns/selectors/), the conditions of exports/types/*.py and,
for the reminder and promoter types, the same files (one stream per SFMC region or promoter);
bench/README.md lists what each query is. `type_request` gives the request body a type needs,
or says why the dataset cannot serve it (`TypeSkipped`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bench.config import BenchError

# Cells that fall back from one raw value to another (the exports' rules).
EMAIL = "COALESCE(NULLIF(e.email, ''), f.email)"
FIRST_NAME = "COALESCE(NULLIF(f.first_name, ''), e.first_name)"
LAST_NAME = "COALESCE(NULLIF(f.last_name, ''), e.last_name)"
PHONE = "COALESCE(NULLIF(e.phone, ''), f.phone)"

# The entries export's 17 columns (its own preference answers come after them).
ENTRY_COLUMNS = (
    "e.id, c.name, e.created_at, f.tm_id, f.global_user_id, e.ip_address, "
    f"{EMAIL}, {FIRST_NAME}, {LAST_NAME}, COALESCE(NULLIF(e.ip_postal_code, ''), f.postal_code), "
    f"{PHONE}, f.member_id, m.name, m.event_ids, e.locale, e.campaign_id, e.phone_confirmed_at IS NOT NULL"
)


class TypeSkipped(Exception):
    """The demo dataset cannot serve this type (the reason is the message)."""


def tables() -> dict[str, str]:
    """The tables the queries read, by the names the templates use."""
    from campaigns.models import Campaign, Code, Entry, Fan, Market, Promoter, ScoringRecord, SmsWave

    return {
        "campaign": Campaign._meta.db_table,
        "market": Market._meta.db_table,
        "fan": Fan._meta.db_table,
        "entry": Entry._meta.db_table,
        "code": Code._meta.db_table,
        "record": ScoringRecord._meta.db_table,
        "wave": SmsWave._meta.db_table,
        "promoter": Promoter._meta.db_table,
        "entry_markets": Entry.additional_markets.through._meta.db_table,
        "entry_promoters": Entry.promoter_opt_ins.through._meta.db_table,
        "record_codes": ScoringRecord.codes.through._meta.db_table,
        "wave_fans": SmsWave.fans.through._meta.db_table,
    }


def _sql(template: str, **values: object) -> str:
    """The template with the table names (and `values`) filled in: one line, as psql's \\copy
    ends at the line's end."""
    sql = template.format(**tables(), **values)
    assert "\n" not in sql, sql
    return sql


# --- entry rows: entries, scoring and the opt-ins -------------------------------------------------


def entry_rows_sql(campaign_id: int, *, condition: str = "", extra: str = "", answers: bool = True) -> str:
    """The entries export's rows (primary market only, the default) in id order; `condition`
    narrows the entries, `extra` adds columns, `answers` one column per campaign preference."""
    from campaigns.models import Campaign

    answer_columns = ""
    if answers:
        preferences = Campaign.objects.get(pk=campaign_id).preferences or []
        answer_columns = "".join(
            ", e.answers ->> '{}'".format(str(p.get("id", "")).replace("'", "''")) for p in preferences
        )
    # The entries COPY limit (bench/measure.py) is this query without a condition, its text as it
    # has always been, so earlier results stay comparable. Answers are appended after the
    # template is filled in: a preference id may hold braces.
    joins = _sql(
        "FROM {entry} e JOIN {fan} f ON f.id = e.fan_id JOIN {market} m ON m.id = e.market_id "
        "JOIN {campaign} c ON c.id = e.campaign_id"
    )
    return (
        f"SELECT {ENTRY_COLUMNS}{extra}{answer_columns} {joins} "
        f"WHERE e.campaign_id = {int(campaign_id)}{condition} ORDER BY e.id"
    )


def _scoring_sql(campaign_id: int, **_: object) -> str:
    # ScoringExport: every entry, no preference columns, five scoring columns.
    extra = ", e.fraud_score, e.score_band, e.fan_score, e.latitude, e.longitude"
    return entry_rows_sql(campaign_id, extra=extra, answers=False)


def _opt_in_sql(condition: str) -> Callable[..., str]:
    def sql(campaign_id: int, **_: object) -> str:
        return entry_rows_sql(campaign_id, condition=f" AND {condition}")

    return sql


# --- codes ----------------------------------------------------------------------------------------


def _codes_sql(campaign_id: int, *, body: dict, **_: object) -> str:
    """codes / codeWaves: the campaign's codes (of one wave) with their market and assigned fan."""
    in_wave = ""
    if "dateKey" in body:
        if not re.fullmatch(r"[0-9]+", body["dateKey"]):
            raise BenchError(f"dateKey {body['dateKey']!r} is not numeric")
        in_wave = f" AND c.date_key = '{body['dateKey']}'"
    return _sql(
        "SELECT c.value, c.market_id, m.name, c.date_key, c.status, c.assigned_at, f.member_id "
        "FROM {code} c JOIN {market} m ON m.id = c.market_id LEFT JOIN {fan} f ON f.id = c.assigned_fan_id "
        "WHERE c.campaign_id = {campaign_id}{in_wave} ORDER BY c.id",
        campaign_id=int(campaign_id),
        in_wave=in_wave,
    )


def _code_assignments_sql(campaign_id: int, **_: object) -> str:
    """Assigned codes, the fan, the fan's entry in the campaign (its e-mail first) and the market."""
    return _sql(
        "SELECT c.value, f.member_id, f.global_user_id, {email}, c.market_id, m.event_ids, c.assigned_at, "
        "c.campaign_id FROM {code} c JOIN {market} m ON m.id = c.market_id "
        "LEFT JOIN {fan} f ON f.id = c.assigned_fan_id "
        "LEFT JOIN {entry} e ON e.campaign_id = {campaign_id} AND e.fan_id = c.assigned_fan_id "
        "WHERE c.campaign_id = {campaign_id} AND c.status = 'assigned' ORDER BY c.id",
        campaign_id=int(campaign_id),
        email=EMAIL,
    )


# --- scoring records: verifiedEntries, waitlist ---------------------------------------------------

# The record's fan, its market and the fan's entry in the campaign (at most one: unique per
# campaign and fan), as selectors.scoring_rows_queryset joins it.
_RECORD_JOINS = (
    "FROM {record} s JOIN {fan} f ON f.id = s.fan_id JOIN {market} m ON m.id = s.market_id "
    "LEFT JOIN {entry} e ON e.campaign_id = {campaign_id} AND e.fan_id = s.fan_id"
)
_RECORD_LOCALE = "COALESCE(NULLIF(s.locale, ''), e.locale)"


def _verified_entries_sql(campaign_id: int, **_: object) -> str:
    return _sql(
        "SELECT e.id, f.tm_id, f.member_id, f.global_user_id, {email}, {first}, {last}, {locale}, "
        f"s.market_id, m.name, s.score, s.rank, s.selected, e.fan_score, e.fraud_score {_RECORD_JOINS} "
        "WHERE s.campaign_id = {campaign_id} AND EXISTS (SELECT 1 FROM {entry} x "
        "WHERE x.campaign_id = s.campaign_id AND x.fan_id = s.fan_id) ORDER BY s.id",
        campaign_id=int(campaign_id),
        email=EMAIL,
        first=FIRST_NAME,
        last=LAST_NAME,
        locale=_RECORD_LOCALE,
    )


def _waitlist_sql(campaign_id: int, **_: object) -> str:
    return _sql(
        "SELECT f.tm_id, f.member_id, f.global_user_id, {email}, {first}, {last}, {phone}, s.market_id, m.name, "
        f"s.score, s.rank, {{locale}} {_RECORD_JOINS} "
        "WHERE s.campaign_id = {campaign_id} AND NOT s.selected AND NOT EXISTS (SELECT 1 FROM {wave_fans} wf "
        "JOIN {wave} w ON w.id = wf.smswave_id WHERE w.campaign_id = s.campaign_id "
        "AND w.scheduled_at IS NOT NULL AND wf.fan_id = s.fan_id) ORDER BY s.id",
        campaign_id=int(campaign_id),
        email=EMAIL,
        first=FIRST_NAME,
        last=LAST_NAME,
        phone=PHONE,
        locale=_RECORD_LOCALE,
    )


# --- fanlist --------------------------------------------------------------------------------------


def _fanlist_sql(campaign_id: int, **_: object) -> str:
    """Entries with the fan, the primary market's name and the additional markets' names
    aggregated per entry (its own market left out, market id order), as two raw columns."""
    return _sql(
        "SELECT f.tm_id, f.member_id, f.global_user_id, {email}, {first}, {last}, {phone}, "
        "COALESCE(NULLIF(f.postal_code, ''), e.ip_postal_code), e.locale, m.name, "
        "(SELECT string_agg(am.name, '|' ORDER BY am.id) FROM {entry_markets} x "
        "JOIN {market} am ON am.id = x.market_id WHERE x.entry_id = e.id AND am.campaign_id = {campaign_id} "
        "AND x.market_id <> e.market_id), e.created_at "
        "FROM {entry} e JOIN {fan} f ON f.id = e.fan_id JOIN {market} m ON m.id = e.market_id "
        "WHERE e.campaign_id = {campaign_id} ORDER BY e.id",
        campaign_id=int(campaign_id),
        email=EMAIL,
        first=FIRST_NAME,
        last=LAST_NAME,
        phone=PHONE,
    )


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


def _reminder_sql(campaign_id: int, *, per_region: int | None = None, **_: object) -> str:
    """Selected records with fan, entry, market, campaign and the code for the record's market
    (the newest, as selectors.codes_for_market), one stream per region in id order (at most
    `per_region` rows each: the sample). The SFMC mid and region are left out: both are
    derived from the market's country, which is in."""
    limit = f" LIMIT {int(per_region)}" if per_region else ""
    parts = [
        _sql(
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


def _reminder_sample_sql(campaign_id: int, *, body: dict, **_: object) -> str:
    from exports.types.reminder_email import DEFAULT_SAMPLE_SIZE

    return _reminder_sql(campaign_id, per_region=body.get("sampleSize") or DEFAULT_SAMPLE_SIZE)


# --- promoterEmailOptIn ---------------------------------------------------------------------------


def _promoter_sql(campaign_id: int, **_: object) -> str:
    """Per promoter of the campaign (id order): the campaign's entries linked to it that also
    carry the general promoter opt-in, in entry id order."""
    from campaigns import selectors

    promoters = selectors.campaign_promoters(campaign_id=campaign_id)
    if not promoters:
        raise TypeSkipped("the campaign has no promoters")
    parts = [
        _sql(
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


# --- the registry ---------------------------------------------------------------------------------

LIMIT_QUERIES: dict[str, Callable[..., str]] = {
    "entries": lambda campaign_id, **_: entry_rows_sql(campaign_id),
    "scoring": _scoring_sql,
    "artistOptIn": _opt_in_sql("e.allow_marketing"),
    # The phone cell falls back from the entry's phone to the fan's, so either one counts.
    "artistSmsOptIn": _opt_in_sql("e.allow_sms AND (e.phone <> '' OR f.phone <> '')"),
    "livenationOptIn": _opt_in_sql("e.allow_livenation"),
    "codes": _codes_sql,
    "codeAssignments": _code_assignments_sql,
    "codeWaves": _codes_sql,
    "verifiedEntries": _verified_entries_sql,
    "fanlist": _fanlist_sql,
    "waitlist": _waitlist_sql,
    "reminderEmail": _reminder_sql,
    "reminderEmailSample": _reminder_sample_sql,
    "autoReminderEmail": _reminder_sql,  # the same rows, one object per region
    "promoterEmailOptIn": _promoter_sql,
}


def type_limit_sql(key: str, campaign_id: int, body: dict) -> str:
    """The limit query of one export type; TypeSkipped when the dataset cannot serve it."""
    if key not in LIMIT_QUERIES:
        raise BenchError(f"no COPY limit query for export type {key!r}: add one to bench/type_limits.py")
    return LIMIT_QUERIES[key](campaign_id, body=body)


# --- the request ----------------------------------------------------------------------------------


def most_common_wave(campaign_id: int) -> str:
    """codeWaves' dateKey: the wave most of the campaign's codes are in."""
    from django.db.models import Count

    from campaigns.models import Code

    row = (
        Code.objects.filter(campaign_id=campaign_id)
        .exclude(date_key="")
        .values("date_key")
        .annotate(n=Count("id"))
        .order_by("-n", "date_key")
        .first()
    )
    if row is None:
        raise TypeSkipped("the campaign's codes have no wave (dateKey)")
    return row["date_key"]


# Values for the required parameters the bench knows how to choose.
REQUIRED_VALUES: dict[str, Callable[[int], object]] = {"dateKey": most_common_wave}


def type_request(key: str, campaign_id: int) -> dict:
    """The request body of one export type on this campaign: its required parameters chosen from
    the data; TypeSkipped when a parameter cannot be chosen or the campaign cannot have it."""
    from campaigns.models import Campaign
    from exports.errors import ApiError
    from exports.types import EXPORT_TYPES

    export_type = EXPORT_TYPES[key]
    body: dict = {"exportType": key}
    for parameter in export_type.parameters:
        if not parameter.required:
            continue
        if parameter.name not in REQUIRED_VALUES:
            raise TypeSkipped(f"needs the parameter {parameter.name!r}, which the bench cannot choose")
        body[parameter.name] = REQUIRED_VALUES[parameter.name](campaign_id)
    try:
        export_type.parse_parameters(body)
        export_type.check_requestable(Campaign.objects.get(pk=campaign_id))
    except ApiError as exc:
        raise TypeSkipped(f"not requestable: {exc.message}") from exc
    return body
