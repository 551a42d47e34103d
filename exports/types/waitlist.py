"""`waitlist`: the unselected scoring records, minus the fans in any scheduled SMS wave of the
campaign (orig; the exclusion is a NOT EXISTS in the query), in record id order: fan ids,
e-mail, names and phone (entry rules when the fan has an entry), the record's market, score,
rank and locale. `.csv`."""

from __future__ import annotations

from django.db.models import Q

from campaigns import selectors
from campaigns.models import Market
from exports.columns import Column
from exports.types.scoring_records import (
    EMAIL,
    FAN_ID_COLUMNS,
    FIRST_NAME,
    LAST_NAME,
    LOCALE,
    PHONE,
    RANK,
    SCORE,
    ScoringRecordsExport,
    market_columns,
)


def waitlist_columns(markets: dict[int, Market] | None) -> list[Column]:
    return [*FAN_ID_COLUMNS, EMAIL, FIRST_NAME, LAST_NAME, PHONE, *market_columns(markets), SCORE, RANK, LOCALE]


class WaitlistExport(ScoringRecordsExport):
    key = "waitlist"
    label = "Waitlist"
    description = "Unselected scoring records of fans not in a scheduled SMS wave."

    def record_columns(self, markets: dict[int, Market] | None) -> list[Column]:
        return waitlist_columns(markets)

    def scoring_condition(self) -> Q | None:
        return selectors.scoring_condition_waitlist()
