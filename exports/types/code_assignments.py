"""`codeAssignments`: one row per assigned code (status `assigned`), in code id order: the
code, the fan's member id, global user id and e-mail (the fan's entry in the campaign
overrides the fan's e-mail, as in entries), the code's market id and event ids (comma-joined),
when it was assigned and the campaign id. `.csv`."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Q

from campaigns import selectors
from exports.columns import Column, format_text, format_timestamp
from exports.types.codes import CodeRecord, CodesExport


def assigned_email(record: CodeRecord) -> str:
    entry_email = record.entry.email if record.entry is not None else ""
    return format_text(entry_email or record.code.assigned_fan__email)


def market_event_ids(record: CodeRecord) -> str:
    if record.market is None:
        return ""
    return format_text(",".join(str(event_id) for event_id in (record.market.event_ids or [])))


CODE_ASSIGNMENT_COLUMNS: tuple[Column, ...] = (
    Column("code", lambda r: format_text(r.code.value)),
    Column("member_id", lambda r: format_text(r.code.assigned_fan__member_id)),
    Column("global_user_id", lambda r: format_text(r.code.assigned_fan__global_user_id)),
    Column("email", assigned_email),
    Column("market_id", lambda r: str(r.code.market_id)),
    Column("event_ids", market_event_ids),
    Column("assigned_at", lambda r: format_timestamp(r.code.assigned_at)),
    Column("campaign_id", lambda r: str(r.code.campaign_id)),
)


class CodeAssignmentsExport(CodesExport):
    key = "codeAssignments"
    label = "Code assignments"
    description = "One row per assigned code: code, fan ids, e-mail, market, event ids, assignment time."
    with_entries = True

    def code_columns(self) -> Sequence[Column]:
        return CODE_ASSIGNMENT_COLUMNS

    def code_condition(self, parameters: dict) -> Q | None:
        return selectors.code_condition_assigned()
