"""SQL twins of the formatters in exports/columns.py, for the PostgreSQL COPY fast path.

Each builder returns a Django expression that renders a cell exactly as the Python formatter
does, so both paths write byte-identical files (the golden tests run through the portable path
on SQLite and through this one on PostgreSQL). Every empty cell is NULL, never '': COPY's CSV
mode writes NULL as nothing but would quote an empty string.

Known differences, outside what the product stores: numbers beyond float precision (|x| >= 1e15
with a fraction, or tiny ones that Python prints in exponent form) and a cell that is exactly
`\\.` (COPY quotes it).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Expression, TextField, Value
from django.db.models.expressions import Combinable

from exports.columns import (
    FIRST_TO_CHECK,
    PLAIN_NUMBER,
    TRIGGER_AT_START,
    guard_formula,
    needs_formula_guard,
    starts_with_trigger,
)

_TEXT = TextField()
# The Python guard's own patterns (\uXXXX escapes mean the same in PostgreSQL's AREs).
_PLAIN_NUMBER_RE = f"^{PLAIN_NUMBER}$"
_TRIGGER_AT_START_RE = f"^{TRIGGER_AT_START}"
_SIGNED_DIGITS_RE = r"^[+-][0-9]+$"


def _codes(characters) -> str:
    """Character codes for `ascii(x) IN (…)`."""
    return ", ".join(str(ord(character)) for character in characters)


# ascii() of a cell's first character (its code point, in a UTF8 database): those the formula
# guard must look at (triggers, whitespace, `＝`…), and what the JSON text of a number or an
# array starts with. PostgreSQL looks up constant lists this long in a hash table.
_FIRST_TO_CHECK_CODES = _codes(sorted(FIRST_TO_CHECK))
_NUMBER_OR_ARRAY_CODES = _codes("-0123456789[")


class Sql(Expression):
    """A SQL template over compiled sub-expressions: `⟨0⟩`, `⟨1⟩`… stand for them.

    Sub-expressions are compiled by Django (joins, aliases, parameters), so templates never
    name tables; a sub-expression may appear several times in a template."""

    output_field = _TEXT

    def __init__(self, template: str, *expressions: Combinable):
        super().__init__(output_field=_TEXT)
        self.template = template
        self.source_expressions: list[Any] = list(expressions)

    def get_source_expressions(self):
        return self.source_expressions

    def set_source_expressions(self, exprs):
        self.source_expressions = list(exprs)

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        clone = self.copy()
        clone.source_expressions = [
            expression.resolve_expression(query, allow_joins, reuse, summarize, for_save)
            for expression in self.source_expressions
        ]
        return clone

    def as_sql(self, compiler, connection):
        parts, params = [], []
        for expression in self.source_expressions:
            sql, sql_params = compiler.compile(expression)
            parts.append((sql, list(sql_params)))
        # Each use of {n} needs its own copy of that expression's parameters, in order.
        out_params: list = []
        pieces = []
        for literal, index in _split(self.template):
            pieces.append(literal)
            if index is not None:
                sql, sql_params = parts[index]
                pieces.append(f"({sql})")
                out_params.extend(sql_params)
        params.extend(out_params)
        return "".join(pieces), params


def _split(template: str):
    """('literal', index) pairs for a template with ⟨0⟩, ⟨1⟩… markers."""
    out: list[tuple[str, int | None]] = []
    rest = template
    while "⟨" in rest:
        head, _, tail = rest.partition("⟨")
        number, _, rest = tail.partition("⟩")
        out.append((head, int(number)))
    out.append((rest, None))
    return out


def _guard(inner: str) -> str:
    """exports.columns.guard_formula in SQL, NULL for empty."""
    # ascii() of the first character (cheaper than left(), and 0 for ''): a cell starting with
    # any other character is settled without normalising it, as in guard_formula. Phone
    # numbers (+4412345…) are the common trigger-led cell: the short pattern settles them
    # before normalize(), which the rest need (NFKC turns `＝` into `=`).
    normal = f"normalize({inner}, NFKC)"
    return (
        f"CASE WHEN ascii({inner}) IN ({_FIRST_TO_CHECK_CODES}) "
        f"THEN CASE WHEN {inner} ~ '{_SIGNED_DIGITS_RE}' THEN {inner} "
        f"WHEN ({inner} ~ '{_TRIGGER_AT_START_RE}' OR {normal} ~ '{_TRIGGER_AT_START_RE}') "
        f"AND {normal} !~ '{_PLAIN_NUMBER_RE}' THEN '''' || {inner} "
        f"ELSE {inner} END "
        f"ELSE NULLIF({inner}, '') END"
    )


def _number(inner: str) -> str:
    """exports.columns.format_number: integral values without a fraction."""
    return f"CASE WHEN {inner} = trunc({inner}) THEN trunc(({inner})::numeric)::text ELSE ({inner})::text END"


def sql_text(expression: Combinable) -> Expression:
    """format_text(value)."""
    return Sql(_guard("⟨0⟩::text"), expression)


def sql_integer(expression: Combinable) -> Expression:
    """str(value) of an integer column (never guarded: it is a number)."""
    return Sql("⟨0⟩::text", expression)


def sql_first_text(first: Combinable, second: Combinable) -> Expression:
    """format_text(first or second)."""
    return Sql(_guard("COALESCE(NULLIF(⟨0⟩, ''), ⟨1⟩)"), first, second)


def sql_timestamp(expression: Combinable) -> Expression:
    """format_timestamp: ISO 8601 UTC with milliseconds and Z."""
    return Sql("to_char(⟨0⟩ AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')", expression)


def sql_bool(expression: Combinable) -> Expression:
    """format_bool(value): true / false, empty for NULL."""
    return Sql("CASE WHEN ⟨0⟩ THEN 'true' WHEN NOT ⟨0⟩ THEN 'false' END", expression)


def sql_list_after(first: dict[int, str], key: Combinable, separator: str, rest: Combinable) -> Expression:
    """format_text(separator.join([first[key], *rest])) for a list whose first item comes from a
    small table (`first`) and the rest from `rest`, already joined (NULL when empty). The
    formula guard of such a cell depends only on its first item: `separator` is never a
    trigger, never ignorable, never part of a number and never composes under NFKC with what
    precedes it. So each first item is formatted in Python twice, alone and as the start of a
    longer list, and `rest` (a subquery) is read once."""
    if not separator or needs_formula_guard(separator) or separator in FIRST_TO_CHECK or separator.isalnum():
        raise ValueError(f"not a safe list separator: {separator!r}")
    alone = sql_lookup(key, {pk: guard_formula(text) for pk, text in first.items()})
    leading = sql_lookup(
        key, {pk: ("'" if starts_with_trigger(text) else "") + text for pk, text in first.items()}, empty_is_null=False
    )
    # Lazily, left to right: a list, else the first item alone, else (no first item) the rest alone.
    return Sql(
        "COALESCE(⟨0⟩ || ⟨1⟩ || ⟨2⟩, ⟨3⟩, " + _guard("⟨2⟩") + ")",
        leading,
        Value(separator, output_field=_TEXT),
        rest,
        alone,
    )


def sql_is_set(expression: Combinable) -> Expression:
    """format_bool(value is not None)."""
    return Sql("CASE WHEN ⟨0⟩ IS NULL THEN 'false' ELSE 'true' END", expression)


def sql_number(expression: Combinable) -> Expression:
    return Sql(_number("⟨0⟩"), expression)


def sql_const(text: str) -> Expression:
    """A cell formatted in Python once for the whole file."""
    return Value(text or None, output_field=_TEXT)


def sql_lookup(expression: Combinable, cells: dict[Any, str], *, empty_is_null: bool = True) -> Expression:
    """A cell chosen by key (an id, a locale) from a small table formatted in Python (e.g. each
    market's cells); a key missing from the table gives NULL;
    `empty_is_null=False` keeps '' (for a part of a cell, e.g. one name of a joined list)."""
    if not cells:
        return Value(None, output_field=_TEXT)
    table = tuple((key, text or None if empty_is_null else text) for key, text in cells.items())
    return SqlLookup(expression, table)


class SqlLookup(Expression):
    """`CASE WHEN (key) = (k1) THEN (cell1) … END`, the table's keys and cells as parameters. The
    same SQL as an Sql template with a Value per key and cell, but one expression instead of
    two per entry: Django hashes every expression of a query when it compiles it, and a
    reminder statement (nine lookups over every market) compiled five times slower that way."""

    output_field = _TEXT

    def __init__(self, expression: Combinable, table: tuple[tuple[Any, str | None], ...]):
        super().__init__(output_field=_TEXT)
        self.key = expression
        self.table = table

    def get_source_expressions(self):
        return [self.key]

    def set_source_expressions(self, exprs):
        (self.key,) = exprs

    def as_sql(self, compiler, connection):
        sql, key_params = compiler.compile(self.key)
        branches, params = [], []
        for key, text in self.table:
            branches.append(f"WHEN ({sql}) = (%s) THEN (%s)")
            params += [*key_params, key, text]
        return f"CASE {' '.join(branches)} END", params


def _array_item(item: str) -> str:
    scalar = f"({item} #>> '{{}}')"
    return (
        f"CASE jsonb_typeof({item}) WHEN 'string' THEN {scalar} WHEN 'null' THEN '' "
        f"WHEN 'number' THEN {_number(scalar + '::numeric')} ELSE {item}::text END"
    )


def sql_answer(answers: Combinable, key: str) -> Expression:
    """format_answer(answers.get(key)) for a jsonb object of answers."""
    value, text = "(⟨0⟩ -> ⟨1⟩)", "(⟨0⟩ ->> ⟨1⟩)"
    array = (
        f"(SELECT string_agg({_array_item('a.x')}, ',' ORDER BY a.o) "
        f"FROM jsonb_array_elements({value}) WITH ORDINALITY AS a(x, o))"
    )
    array_text = "COALESCE(" + array + ", '')"
    by_type = (
        f"CASE jsonb_typeof({value}) WHEN 'string' THEN {_guard(text)} "
        f"WHEN 'boolean' THEN {text} "
        f"WHEN 'number' THEN {_number(text + '::numeric')} "
        f"WHEN 'array' THEN {_guard(array_text)} "
        f"WHEN 'object' THEN {_guard(value + '::text')} ELSE 'false' END"
    )
    # Most answers are text or booleans whose JSON text (->>) starts with a letter: that
    # text is the cell (NULL when empty, `false` when missing). Only a first character that may
    # start a number, an array or a formula (or hide one: whitespace, `＝`…) needs the
    # dispatch on the JSON type, which costs about three times as much per cell.
    template = (
        f"CASE WHEN ascii({text}) IN ({_FIRST_TO_CHECK_CODES}, {_NUMBER_OR_ARRAY_CODES}) THEN {by_type} "
        f"ELSE NULLIF(COALESCE({text}, 'false'), '') END"
    )
    return Sql(template, answers, Value(key, output_field=_TEXT))
