"""Each export type's own COPY limit: a `SELECT` of the same rows as the export, with the same joins
and conditions, giving raw column values (no formatting expressions: no formula guard, no
timestamp or number formatting, no lookups). The fallbacks between the entry's and the fan's
values are kept (`COALESCE(NULLIF(first, ''), second)`, as the entries limit has always done):
they choose which raw value a cell holds.

Raw SQL on purpose: the limit is what PostgreSQL can do without the product. The row sets follow
the selectors each type reads (campaigns/selectors/), the conditions of exports/types/*.py and,
for the reminder and promoter types, the same files (one stream per SFMC region or promoter,
in bench/file_limits.py); bench/README.md lists what each query is. bench/type_requests.py gives
the request body a type needs, or says why the dataset cannot serve it (`TypeSkipped`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bench.config import BenchError
from bench.file_limits import promoter_sql, reminder_sample_sql, reminder_sql
from bench.limit_sql import EMAIL, ENTRY_COLUMNS, FIRST_NAME, LAST_NAME, PHONE, one_line_sql

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
    joins = one_line_sql(
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
    return one_line_sql(
        "SELECT c.value, c.market_id, m.name, c.date_key, c.status, c.assigned_at, f.member_id "
        "FROM {code} c JOIN {market} m ON m.id = c.market_id LEFT JOIN {fan} f ON f.id = c.assigned_fan_id "
        "WHERE c.campaign_id = {campaign_id}{in_wave} ORDER BY c.id",
        campaign_id=int(campaign_id),
        in_wave=in_wave,
    )


def _code_assignments_sql(campaign_id: int, **_: object) -> str:
    """Assigned codes, the fan, the fan's entry in the campaign (its e-mail first) and the market."""
    return one_line_sql(
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
    return one_line_sql(
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
    return one_line_sql(
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
    return one_line_sql(
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
    "reminderEmail": reminder_sql,
    "reminderEmailSample": reminder_sample_sql,
    "autoReminderEmail": reminder_sql,  # the same rows, one object per region
    "promoterEmailOptIn": promoter_sql,
}


def type_limit_sql(key: str, campaign_id: int, body: dict) -> str:
    """The limit query of one export type; TypeSkipped when the dataset cannot serve it."""
    if key not in LIMIT_QUERIES:
        raise BenchError(f"no COPY limit query for export type {key!r}: add one to bench/type_limits.py")
    return LIMIT_QUERIES[key](campaign_id, body=body)
