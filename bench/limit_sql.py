"""The pieces every export type's COPY limit query is built from (bench/type_limits.py and
bench/file_limits.py): the raw-value fallbacks of the exports' cells, the table names, and the
one-line SQL psql's \\copy needs."""

from __future__ import annotations

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


def one_line_sql(template: str, **values: object) -> str:
    """The template with the table names (and `values`) filled in: one line, as psql's \\copy
    ends at the line's end."""
    sql = template.format(**tables(), **values)
    assert "\n" not in sql, sql
    return sql
