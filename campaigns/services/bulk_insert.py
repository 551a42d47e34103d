"""Writing demo rows as plain tuples: COPY on PostgreSQL, executemany elsewhere."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, cast

from django.db import connection, models, transaction

from campaigns.models import Code, Entry, Fan, ScoringRecord, SmsWave

# Big tables are written as plain tuples in these column orders: the ORM's per-field work in
# bulk_create made 1M entries take 3.5-4.5 minutes; tuples + COPY/executemany take about 1.5-2.
TABLES: dict[str, tuple[type[models.Model], tuple[str, ...]]] = {
    "fans": (Fan, ("id", "tm_id", "member_id", "global_user_id", "email", "phone", "postal_code", "first_name",
                   "last_name")),
    "entries": (Entry, ("id", "campaign_id", "fan_id", "market_id", "locale", "created_at", "phone_confirmed_at",
                        "email", "phone", "first_name", "last_name", "answers", "allow_marketing", "allow_livenation",
                        "allow_promoter", "allow_sms", "ip_address", "ip_postal_code", "latitude", "longitude",
                        "fraud_score", "score_band", "fan_score")),
    "additional_markets": (Entry.additional_markets.through, ("entry_id", "market_id")),
    "promoter_opt_ins": (Entry.promoter_opt_ins.through, ("entry_id", "promoter_id")),
    "codes": (Code, ("id", "campaign_id", "market_id", "value", "date_key", "status", "assigned_fan_id",
                     "assigned_at")),
    "scoring_records": (ScoringRecord, ("id", "campaign_id", "fan_id", "market_id", "score", "rank", "selected",
                                        "locale")),
    "scoring_codes": (ScoringRecord.codes.through, ("scoringrecord_id", "code_id")),
    "sms_wave_fans": (SmsWave.fans.through, ("smswave_id", "fan_id")),
}  # fmt: skip
Rows = dict[str, list[tuple]]


def rows_insert(*, rows: Rows, counts: Counter[str]) -> None:
    with transaction.atomic():
        for name, (model, columns) in TABLES.items():
            if rows.get(name):
                counts[name] += _insert(model=model, columns=columns, rows=rows[name])


def _insert(*, model: type[models.Model], columns: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> int:
    """Insert tuples: COPY on PostgreSQL, executemany elsewhere; values adapted as the ORM would."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    table_fields = [by_attname[column] for column in columns]
    adapt: list[tuple[int, models.Field[Any, Any]]] = [
        (i, f) for i, f in enumerate(table_fields) if isinstance(f, models.DateTimeField | models.JSONField)
    ]
    if adapt:
        rows = [_adapted(row, adapt) for row in rows]
    quote = connection.ops.quote_name
    # Concrete fields always have a column (the stubs type Field.column as optional).
    table, names = quote(model._meta.db_table), ", ".join(quote(cast(str, f.column)) for f in table_fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})", rows)
    return len(rows)


def _adapted(row: Sequence[Any], adapt: list[tuple[int, models.Field[Any, Any]]]) -> list[Any]:
    values = list(row)
    for index, model_field in adapt:
        values[index] = model_field.get_db_prep_save(values[index], connection)
    return values
