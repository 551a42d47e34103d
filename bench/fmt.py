"""Numbers as results.md and the console show them."""

from __future__ import annotations


def fmt_num(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and value != value:  # NaN
        return "–"
    return f"{value:,.{digits}f}"


def fmt_value(value) -> str:
    """A target's measured value: counts as they are, the rest with two decimals."""
    if value is None:
        return "–"
    return str(value) if isinstance(value, int) else f"{value:.2f}"


def fmt_spread(values: dict, digits: int = 0) -> str:
    if values.get("median") is None:
        return "–"
    return " / ".join(fmt_num(values[key], digits) for key in ("min", "median", "max"))
