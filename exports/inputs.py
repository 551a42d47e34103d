"""The one check of text input for control characters: request bodies (every string, at any
depth, keys included), path ids and query values.

C0 (U+0000–U+001F, tab and newline included), DEL and C1 (U+007F–U+009F) have no place in an id,
a date key, a column name, a timestamp or a URL. PostgreSQL refuses NUL outright (a 500 before
this check), and the others end up in log lines, file names and webhook requests.
"""

from __future__ import annotations

import re

from exports.errors import BadRequest

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


def control_character_field(value: object, name: str) -> str | None:
    """The name of the first string in `value` with a control character (`filters.createdTo`,
    `columns[2]`; a bad key is named by where it sits), or None. Walks without recursion."""
    pending: list[tuple[object, str]] = [(value, name)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            if has_control_characters(item):
                return where
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                key_text = str(key)
                if has_control_characters(key_text):
                    return f"{where}.<key>" if where else "<key>"
                pending.append((child, f"{where}.{key_text}" if where else key_text))
        elif isinstance(item, list | tuple):
            pending.extend((child, f"{where}[{index}]") for index, child in reversed(list(enumerate(item))))
    return None


def reject_control_characters(*, value: object, name: str = "") -> None:
    """Raise BadRequest naming the field when any string in `value` has a control character."""
    field = control_character_field(value, name)
    if field is not None:
        raise BadRequest(
            f"Invalid '{field}' value: control characters are not allowed.",
            "Text values must not contain control characters (U+0000-U+001F, U+007F-U+009F).",
        )
