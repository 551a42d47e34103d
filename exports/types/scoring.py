"""`scoring`: entry rows like `entries` without preference columns, plus the fraud score, score
band, fan score, latitude and longitude (orig: nudetect/nudata naming). Tab-separated `.txt`
in the scoring storage; no additional-market rows (orig), so it takes no parameters."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import F

from campaigns import selectors
from exports import columns_sql as cs
from exports.columns import Column, format_number, format_text
from exports.types.base import TXT_TAB, ExportContext
from exports.types.entries import EntriesExport

SCORING_COLUMNS: tuple[Column, ...] = (
    Column("nudata_score", lambda r: format_number(r.entry.fraud_score), lambda p: cs.sql_number(F(p + "fraud_score"))),
    Column("score_band", lambda r: format_text(r.entry.score_band), lambda p: cs.sql_text(F(p + "score_band"))),
    Column("fan_score", lambda r: format_number(r.entry.fan_score), lambda p: cs.sql_number(F(p + "fan_score"))),
    Column("latitude", lambda r: format_number(r.entry.latitude), lambda p: cs.sql_number(F(p + "latitude"))),
    Column("longitude", lambda r: format_number(r.entry.longitude), lambda p: cs.sql_number(F(p + "longitude"))),
)


class ScoringExport(EntriesExport):
    key = "scoring"
    label = "Scoring"
    description = "One row per entry in its primary market, with fraud score, score band, fan score and location."
    parameters = ()
    file_format = TXT_TAB
    storage_alias = "scoring"
    acl = "bucket-owner-full-control"
    ccpa_exempt = True  # orig: CCPA deletion keeps scoring exports
    include_preferences = False
    supports_all_markets = False
    entry_fields = selectors.ENTRY_SCORING_FIELDS

    def header_names(self) -> list[str]:
        return [*super().header_names(), *(column.header for column in SCORING_COLUMNS)]

    def columns(self, ctx: ExportContext) -> Sequence[Column]:
        return [*super().columns(ctx), *SCORING_COLUMNS]
