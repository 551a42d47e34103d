"""`verifiedEntries`: one row per scoring record whose fan has an entry in the campaign, in
record id order: the entry and fan ids, e-mail and names (entry rules), the scored locale, the
record's market, score, rank and selection, and the entry's fan score and fraud score. `.csv`
in the vf_scoring storage."""

from __future__ import annotations

from django.db.models import F, Q

from campaigns import selectors
from campaigns.models import Market
from exports import columns_sql as cs
from exports.columns import Column, format_bool
from exports.types.scoring_records import (
    EMAIL,
    FAN_ID_COLUMNS,
    FIRST_NAME,
    LAST_NAME,
    LOCALE,
    RANK,
    SCORE,
    ScoringRecordsExport,
    entry_number_column,
    market_columns,
)


def verified_entry_columns(markets: dict[int, Market] | None) -> list[Column]:
    return [
        entry_number_column("entry_id", "id"),
        *FAN_ID_COLUMNS,
        EMAIL,
        FIRST_NAME,
        LAST_NAME,
        LOCALE,
        *market_columns(markets),
        SCORE,
        RANK,
        Column("selected", lambda r: format_bool(r.scoring.selected), lambda p: cs.sql_bool(F("selected"))),
        entry_number_column("fan_score", "fan_score"),
        entry_number_column("fraud_score", "fraud_score"),
    ]


class VerifiedEntriesExport(ScoringRecordsExport):
    key = "verifiedEntries"
    label = "Verified entries"
    description = "One row per scoring record of a fan who entered: ids, contact, market, score, rank, selection."
    storage_alias = "vf_scoring"
    ccpa_exempt = True  # orig: CCPA deletion keeps verifiedEntries exports

    def record_columns(self, markets: dict[int, Market] | None) -> list[Column]:
        return verified_entry_columns(markets)

    def scoring_condition(self) -> Q | None:
        return selectors.scoring_condition_has_entry()
