"""Readers of environment variables for exportsite/settings/ and exportsite/gunicorn.py.

django-environ reads and casts. What it lacks is added here: bounds on integers, strict
booleans, a fixed set of choices, and messages that name the variable, so a wrong value stops
the process at start-up instead of failing later in a request or a worker. The value syntax is
documented in docs/operations.md.
"""

from __future__ import annotations

from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

_BOOLEANS = ("1", "true", "yes", "on", "0", "false", "no", "off", "")


class _LiteralEnv(environ.Env):
    """django-environ's Env without its `$NAME` proxies: a value that starts with `$` (a random
    secret may) is that value, not the name of another variable."""

    def get_value(self, var: str, cast: Any = None, default: Any = environ.Env.NOTSET, parse_default: bool = False):
        value = self.ENVIRON.get(var)
        if value is not None and value.startswith("$"):
            return self.parse_value(value, cast)
        return super().get_value(var, cast=cast, default=default, parse_default=parse_default)


env = _LiteralEnv()


def env_str(name: str, default: str = "", *, required: bool = False) -> str:
    """The value; unset or empty means `default`."""
    value = env.str(name, default="")
    if not value and required:
        raise ImproperlyConfigured(f"Environment variable {name} is required.")
    return value or default


def env_bool(name: str, default: bool = False) -> bool:
    """1/true/yes/on or 0/false/no/off, any case; empty is false. django-environ alone would
    read any other word as false, so a typo is refused here."""
    if name not in env:
        return default
    raw = env.str(name)
    if raw.strip().lower() not in _BOOLEANS:
        raise ImproperlyConfigured(f"Environment variable {name} must be a boolean (true/false), got {raw!r}.")
    return env.bool(name)


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """A whole number within the bounds; unset or blank means `default`."""
    raw = env.str(name, default="")
    try:
        value = env.int(name) if raw.strip() else default
    except ValueError:
        raise ImproperlyConfigured(f"Environment variable {name} must be an integer, got {raw!r}.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"Environment variable {name} must be >= {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"Environment variable {name} must be <= {maximum}, got {value}.")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """Comma-separated, items stripped, blanks dropped; unset means `default`."""
    return [item.strip() for item in env.list(name, default=list(default or [])) if item.strip()]


def env_int_map(name: str) -> dict[str, int]:
    """`key=1,other=2` → {"key": 1, "other": 2}."""
    result: dict[str, int] = {}
    for item in env_list(name):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ImproperlyConfigured(f"Environment variable {name} must look like 'key=number,...', got {item!r}.")
        try:
            result[key.strip()] = int(raw)
        except ValueError:
            raise ImproperlyConfigured(f"Environment variable {name}: {key.strip()!r} needs a whole number.") from None
    return result


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of `choices`; unset or empty means `default`."""
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"Environment variable {name} must be one of {', '.join(choices)}, got {value!r}.")
    return value
