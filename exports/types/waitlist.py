"""`waitlist`: the unselected scoring records, minus the fans in any scheduled SMS wave of the
campaign (orig; the exclusion is a NOT EXISTS in the query), in record id order: fan ids,
e-mail, names and phone (entry rules when the fan has an entry), the record's market, score,
rank and locale. `.csv`."""

from __future__ import annotations

from django.db.models import Q

from campaigns import selectors
from exports.columns import Column, format_number
from exports.types.scoring_records import (
    FAN_ID_COLUMNS,
    ScoringRecordsExport,
    email_cell,
    first_name_cell,
    last_name_cell,
    locale_cell,
    market_name_cell,
    phone_cell,
)

WAITLIST_COLUMNS: tuple[Column, ...] = (
    *FAN_ID_COLUMNS,
    Column("email", email_cell),
    Column("first_name", first_name_cell),
    Column("last_name", last_name_cell),
    Column("phone", phone_cell),
    Column("market_id", lambda r: str(r.scoring.market_id)),
    Column("market_name", market_name_cell),
    Column("score", lambda r: format_number(r.scoring.score)),
    Column("rank", lambda r: format_number(r.scoring.rank)),
    Column("locale", locale_cell),
)


class WaitlistExport(ScoringRecordsExport):
    key = "waitlist"
    label = "Waitlist"
    description = "Unselected scoring records of fans not in a scheduled SMS wave."
    record_columns = WAITLIST_COLUMNS

    def scoring_condition(self) -> Q | None:
        return selectors.scoring_condition_waitlist()
