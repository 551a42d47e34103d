"""The database (DATABASE_URL) and the cache (DJANGO_CACHE_URL), parsed by django-environ."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import ParseResult, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from exportsite.environment import env_int, env_str
from exportsite.settings.base import DEBUG, VAR_DIR

_POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")
# IMMEDIATE avoids "database is locked" upgrades when the web process and the worker thread
# write at the same time; WAL lets readers proceed during writes.
_SQLITE_OPTIONS = {
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}


def database_from_url(name: str, url: str) -> dict[str, Any]:
    """`sqlite:///relative/path`, `sqlite:////absolute/path` or `postgres://user:pw@host:port/db?opt=value`
    as a DATABASES entry. Query options `conn_max_age` (default 60) and `test_name` are Django's,
    the others the driver's; SQLite takes none."""
    scheme = urlsplit(url).scheme
    if scheme not in ("sqlite", *_POSTGRES_SCHEMES):
        raise ImproperlyConfigured(
            f"Environment variable {name} has an unsupported scheme {scheme!r} (use sqlite:// or postgres://)."
        )
    # Handed over parsed, so that a path keeps its "+" and ";" (django-environ would decode "+" as
    # a space, and urlparse cuts ";params" off), and never empty (django-environ re-quotes a URL
    # without a path, so "%40" in a password would stay "%40").
    parts = urlsplit(url)
    path = parts.path.replace("+", "%2B") or "/"
    config = environ.Env.db_url_config(ParseResult(parts.scheme, parts.netloc, path, "", parts.query, ""))
    if scheme == "sqlite":
        if config["NAME"] != ":memory:":
            Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        return {"ENGINE": config["ENGINE"], "NAME": config["NAME"], "OPTIONS": dict(_SQLITE_OPTIONS)}
    options = config.get("OPTIONS", {})
    return {
        **config,
        "NAME": config["NAME"] or "exportsite",
        "PORT": str(config["PORT"]),
        "CONN_MAX_AGE": int(config.get("CONN_MAX_AGE", 60)),
        "CONN_HEALTH_CHECKS": config.get("CONN_HEALTH_CHECKS", True),
        "OPTIONS": options,
        "TEST": {"NAME": options.pop("test_name", None)},
    }


def cache_from_url(name: str, url: str) -> dict[str, Any]:
    """A CACHES entry: Django's Redis cache for a redis:// or rediss:// URL, per-process memory
    without one."""
    if not url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if not url.startswith(("redis://", "rediss://")):
        raise ImproperlyConfigured(f"Environment variable {name} must be a redis:// URL.")
    return environ.Env.cache_url_config(url, backend="django.core.cache.backends.redis.RedisCache")


DATABASES: dict[str, dict[str, Any]] = {
    "default": database_from_url("DATABASE_URL", env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'exportsite.sqlite3'}"))
}
# Export reads (the selectors and the COPY fast path of a running export) from a streaming
# replica; the job table and every write stay on "default" (exportsite/db_router.py).
_REPLICA_URL = env_str("DATABASE_REPLICA_URL", "")
if _REPLICA_URL:
    if urlsplit(_REPLICA_URL).scheme not in _POSTGRES_SCHEMES:
        raise ImproperlyConfigured("Environment variable DATABASE_REPLICA_URL must be a postgres:// URL.")
    DATABASES["replica"] = {**database_from_url("DATABASE_REPLICA_URL", _REPLICA_URL), "TEST": {"MIRROR": "default"}}
DATABASE_ROUTERS = ["exportsite.db_router.ExportReadRouter"]
EXPORTS_REPLICA_ALIAS = "replica" if _REPLICA_URL else ""
# How long a worker waits for the replica to replay the primary's WAL position of its job's
# snapshot before it reads from the primary instead (and logs why).
EXPORTS_REPLICA_WAIT_SECONDS = env_int("EXPORTS_REPLICA_WAIT_SECONDS", 5, minimum=0, maximum=600)

# A worker's state writes, heartbeats and checkpoints wait this long for a lost database
# connection to come back (exports/db_retry.py): a PostgreSQL restart takes a few seconds, a
# managed failover up to about half a minute. Web requests never wait: they answer 503.
EXPORTS_DB_RETRY_SECONDS = env_int("EXPORTS_DB_RETRY_SECONDS", 30, minimum=0, maximum=600)

# --- Cache (DRF throttling counts): per process by default; share it through Redis in production.
_CACHE_URL = env_str("DJANGO_CACHE_URL", "")
CACHES = {"default": cache_from_url("DJANGO_CACHE_URL", _CACHE_URL)}
if not DEBUG and not _CACHE_URL:
    # Throttles and login lockouts counted per process would let an attacker spread guesses
    # over the processes: production shares one count.
    raise ImproperlyConfigured("Environment variable DJANGO_CACHE_URL is required when DJANGO_DEBUG is off.")
# A per-process cache is fine for the zero-setup demo (one process); axes warns about it.
SILENCED_SYSTEM_CHECKS = [] if _CACHE_URL else ["axes.W001"]
