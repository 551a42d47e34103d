"""Typed readers for environment variables, used only by settings.py.

Every reader raises ImproperlyConfigured naming the variable, so a wrong value stops the
process at start-up instead of failing later in a request or a worker.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if required:
            raise ImproperlyConfigured(f"Environment variable {name} is required.")
        return default if default is not None else ""
    return value


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"Environment variable {name} must be a boolean (true/false), got {raw!r}.")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"Environment variable {name} must be an integer, got {raw!r}.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"Environment variable {name} must be >= {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"Environment variable {name} must be <= {maximum}, got {value}.")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


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
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"Environment variable {name} must be one of {', '.join(choices)}, got {value!r}.")
    return value


def database_from_url(name: str, url: str) -> dict:
    """Turn `sqlite:///path` or `postgres://user:pw@host:port/db` into a DATABASES entry."""
    parsed = urlparse(url)
    options = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    if parsed.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path (three slashes, then the path).
        path = unquote(url.split("://", 1)[1].split("?", 1)[0])[1:]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path or ":memory:",
            # IMMEDIATE avoids "database is locked" upgrades when the web process and the
            # worker thread write at the same time; WAL lets readers proceed during writes.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    if parsed.scheme in ("postgres", "postgresql", "pgsql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")) or "exportsite",
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": int(options.pop("conn_max_age", 60)),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
            "TEST": {"NAME": options.pop("test_name", None)},
        }
    raise ImproperlyConfigured(
        f"Environment variable {name} has an unsupported scheme {parsed.scheme!r} (use sqlite:// or postgres://)."
    )


def broker_from_url(name: str, url: str) -> tuple[str, dict]:
    """Dramatiq broker class path and options for a broker URL; empty URL = in-process stub broker."""
    if not url:
        return "dramatiq.brokers.stub.StubBroker", {}
    scheme = urlparse(url).scheme
    if scheme in ("redis", "rediss"):
        return "exportsite.broker.WakeupRedisBroker", {"url": url}
    if scheme in ("amqp", "amqps"):
        return "dramatiq.brokers.rabbitmq.RabbitmqBroker", {"url": url}
    raise ImproperlyConfigured(f"Environment variable {name} must be a redis:// or amqp:// URL, got scheme {scheme!r}.")
