"""`codeAssignments`: one row per assigned code (status `assigned`), in code id order: the
code, the fan's member id, global user id and e-mail (the fan's entry in the campaign
overrides the fan's e-mail, as in entries), the code's market id and event ids (comma-joined),
when it was assigned and the campaign id. `.csv`."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import F, Q

from campaigns import selectors
from campaigns.models import Market
from exports import columns_sql as cs
from exports.columns import Column, format_text, format_timestamp
from exports.types.base import ExportContext
from exports.types.codes import CodeRecord, CodesExport, code_text_column, market_lookup


def assigned_email(record: CodeRecord) -> str:
    entry_email = record.entry.email if record.entry is not None else ""
    return format_text(entry_email or record.code.assigned_fan__email)


def event_ids_cell(market: Market) -> str:
    return format_text(",".join(str(event_id) for event_id in (market.event_ids or [])))


def code_assignment_columns(markets: dict[int, Market] | None = None) -> list[Column]:
    # The fan's entry in the campaign overrides the fan's e-mail (joined by code_rows_queryset).
    entry_email = F(f"{selectors.CODE_FAN_ENTRY}__email")
    return [
        code_text_column("code", "value"),
        code_text_column("member_id", "assigned_fan__member_id"),
        code_text_column("global_user_id", "assigned_fan__global_user_id"),
        Column("email", assigned_email, lambda p: cs.sql_first_text(entry_email, F("assigned_fan__email"))),
        Column("market_id", lambda r: str(r.code.market_id), lambda p: cs.sql_integer(F("market_id"))),
        market_lookup("event_ids", event_ids_cell, markets),
        Column(
            "assigned_at", lambda r: format_timestamp(r.code.assigned_at), lambda p: cs.sql_timestamp(F("assigned_at"))
        ),
        Column("campaign_id", lambda r: str(r.code.campaign_id), lambda p: cs.sql_integer(F("campaign_id"))),
    ]


class CodeAssignmentsExport(CodesExport):
    key = "codeAssignments"
    label = "Code assignments"
    description = "One row per assigned code: code, fan ids, e-mail, market, event ids, assignment time."
    with_entries = True

    def code_columns(self, ctx: ExportContext | None = None) -> Sequence[Column]:
        return code_assignment_columns(ctx.cache["markets_by_id"] if ctx is not None else None)

    def code_condition(self, parameters: dict) -> Q | None:
        return selectors.code_condition_assigned()
