"""`verifiedEntries`: one row per scoring record whose fan has an entry in the campaign, in
record id order: the entry and fan ids, e-mail and names (entry rules), the scored locale, the
record's market, score, rank and selection, and the entry's fan score and fraud score. `.csv`
in the vf_scoring storage."""

from __future__ import annotations

from django.db.models import Q

from campaigns import selectors
from exports.columns import Column, format_bool, format_number
from exports.types.scoring_records import (
    FAN_ID_COLUMNS,
    ScoringRecordsExport,
    email_cell,
    entry_value,
    first_name_cell,
    last_name_cell,
    locale_cell,
    market_name_cell,
)

VERIFIED_ENTRY_COLUMNS: tuple[Column, ...] = (
    Column("entry_id", lambda r: format_number(entry_value(r, "id"))),
    *FAN_ID_COLUMNS,
    Column("email", email_cell),
    Column("first_name", first_name_cell),
    Column("last_name", last_name_cell),
    Column("locale", locale_cell),
    Column("market_id", lambda r: str(r.scoring.market_id)),
    Column("market_name", market_name_cell),
    Column("score", lambda r: format_number(r.scoring.score)),
    Column("rank", lambda r: format_number(r.scoring.rank)),
    Column("selected", lambda r: format_bool(r.scoring.selected)),
    Column("fan_score", lambda r: format_number(entry_value(r, "fan_score"))),
    Column("fraud_score", lambda r: format_number(entry_value(r, "fraud_score"))),
)


class VerifiedEntriesExport(ScoringRecordsExport):
    key = "verifiedEntries"
    label = "Verified entries"
    description = "One row per scoring record of a fan who entered: ids, contact, market, score, rank, selection."
    storage_alias = "vf_scoring"
    ccpa_exempt = True  # orig: CCPA deletion keeps verifiedEntries exports
    record_columns = VERIFIED_ENTRY_COLUMNS

    def scoring_condition(self) -> Q | None:
        return selectors.scoring_condition_has_entry()
