"""Column definitions and cell formatting: pure functions, no database access.

Formula-injection guard (documented in docs/export-types.md): a *text* cell that starts with
`=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so spreadsheet programs show
it as text instead of evaluating it. "Starts with" is judged after skipping leading whitespace
and invisible characters (LEADING_IGNORABLE), on the text as stored and on its NFKC form, so
` =cmd`, a zero-width space or a full-width `＝` cannot hide a trigger; the cell keeps its
original text behind the `'`. Exceptions: a cell that is a plain number (`-73.98`,
`+15551234567`, `＋１２３`) after the same skipping and normalisation is left alone, because
spreadsheets read it as a number anyway, so E.164 phone numbers stay intact; a formatted one
such as `+1 (555) 010-9999` is guarded, since a spreadsheet would evaluate it. Columns we format
ourselves (ids, dates, booleans, numbers) are never guarded.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Skipped before the first character is judged, as code-point ranges: Unicode whitespace (what
# str.isspace() accepts, except tab and CR, which are triggers) and invisible format characters
# (soft hyphen, Mongolian vowel separator, zero-width space/non-joiner/joiner, word joiner,
# BOM). One list, so the SQL twin (exports.columns_sql) matches exactly the same characters.
LEADING_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x0A, 0x0C),
    (0x1C, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0xAD, 0xAD),
    (0x1680, 0x1680),
    (0x180E, 0x180E),
    (0x2000, 0x200D),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x2060),
    (0x3000, 0x3000),
    (0xFEFF, 0xFEFF),
)


def _char_class(ranges) -> str:
    """A bracket expression of \\uXXXX escapes, valid in Python's re and PostgreSQL's AREs."""
    return "[" + "".join(f"\\u{lo:04x}" + (f"-\\u{hi:04x}" if hi > lo else "") for lo, hi in ranges) + "]"


# Regular expressions shared with the SQL twin, which anchors them with ^…$.
IGNORABLE_CLASS = _char_class(LEADING_IGNORABLE)
TRIGGER_AT_START = IGNORABLE_CLASS + "*" + _char_class((ord(c), ord(c)) for c in FORMULA_TRIGGERS)
# ASCII digits only (Python's \d would accept other scripts' digits; SQL's [0-9] would not).
PLAIN_NUMBER = IGNORABLE_CLASS + r"*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
# First characters that need the full check: triggers, ignorable characters, and those whose
# NFKC form starts with a trigger (superscript, small, full-width forms; `⩵` is `==`). Any other
# first character settles the cell unnormalised: NFKC keeps its base or composes that with the
# marks after it into a letter or symbol (`é`, `≮`), never a trigger or an ignorable character;
# spacing accents (`¨` = space + mark) leave a mark first. The tests check this against every
# code point.
COMPATIBILITY_TRIGGERS = "⁺⁼₊₌⩵⩶﬩﹢﹣﹦﹫＋－＝＠"
FIRST_TO_CHECK = frozenset(
    [*FORMULA_TRIGGERS, *(chr(c) for lo, hi in LEADING_IGNORABLE for c in range(lo, hi + 1)), *COMPATIBILITY_TRIGGERS]
)

_TRIGGER_AT_START = re.compile(TRIGGER_AT_START)
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER)


def starts_with_trigger(text: str) -> bool:
    """A trigger after any ignorable characters, in the text as stored or in its NFKC form (NFKC
    composes `=` + U+0338 into `≠`, but a spreadsheet sees the `=`)."""
    return bool(_TRIGGER_AT_START.match(text) or _TRIGGER_AT_START.match(unicodedata.normalize("NFKC", text)))


def needs_formula_guard(text: str) -> bool:
    """The full rule, for any text; guard_formula skips it for the common first characters."""
    return starts_with_trigger(text) and not _PLAIN_NUMBER.fullmatch(unicodedata.normalize("NFKC", text))


def guard_formula(text: str) -> str:
    if not text or text[0] not in FIRST_TO_CHECK:
        return text
    return "'" + text if needs_formula_guard(text) else text


def format_timestamp(value: datetime | None) -> str:
    """ISO 8601 in UTC with milliseconds and `Z`, like the old service's Date#toISOString."""
    if value is None:
        return ""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def format_bool(value: bool | None) -> str:
    if value is None:
        return ""
    return "true" if value else "false"


def format_number(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def format_text(value: Any) -> str:
    if value is None:
        return ""
    return guard_formula(str(value))


def json_text(value: Any) -> str:
    """JSON as PostgreSQL prints jsonb: `, ` and `: ` separators, object keys ordered by length
    in bytes and then bytewise, so the COPY fast path can write the same text."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode("utf-8")), k.encode("utf-8")))
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {json_text(value[k])}" for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(json_text(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _answer_item_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return format_bool(value)
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, str):
        return value
    return json_text(value)


def _answer_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_answer_item_text(item) for item in value)
    return _answer_item_text(value)


def format_answer(value: Any) -> str:
    """A registration answer: booleans as true/false, lists joined by commas (nested values as
    JSON), objects as JSON, missing as `false` (orig); the formula guard applies to the whole cell."""
    if value is None:
        return "false"
    if isinstance(value, bool | int | float):
        return _answer_text(value)
    return guard_formula(_answer_text(value))


def format_select_show(event_date: date | None, city: str, state: str) -> str:
    """`M/DD - City, ST` (orig), e.g. `7/04 - Chicago, IL`."""
    if event_date is None:
        place = ", ".join(part for part in (city, state) if part)
        return guard_formula(place)
    place = ", ".join(part for part in (city, state) if part)
    return f"{event_date.month}/{event_date.day:02d} - {place}" if place else f"{event_date.month}/{event_date.day:02d}"


@dataclass(frozen=True)
class Column:
    """One output column: its header, how to turn a record into the cell's text, and optionally
    the same formatting as a SQL expression (exports.columns_sql) for the COPY fast path; `sql`
    takes the field-path prefix of the row's entry ("" or "entry__")."""

    header: str
    value: Callable[[Any], str]
    sql: Callable[[str], Any] | None = None

    def sql_for(self, prefix: str) -> Any:
        """The SQL twin for rows whose entry is at `prefix`; the fast path only runs when every
        column has one."""
        if self.sql is None:
            raise ValueError(f"column {self.header!r} has no SQL twin")
        return self.sql(prefix)


def header_row(columns: Sequence[Column]) -> list[str]:
    return [column.header for column in columns]
