"""Health checks for /heartbeat: database, broker, storage, each bounded by a short timeout."""

from __future__ import annotations

import concurrent.futures
import time

import dramatiq
from django.conf import settings
from django.db import connection

from exports import storage

_TIMEOUT_SECONDS = 3.0
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=3, thread_name_prefix="health")


def _check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


def _check_broker() -> None:
    broker = dramatiq.get_broker()
    client = getattr(broker, "client", None)
    if client is not None:  # Redis
        client.ping()
        return
    if hasattr(broker, "connection"):  # RabbitMQ: opening the channel proves the server answers
        broker.connection  # noqa: B018
        return


def _check_storage() -> None:
    for alias in settings.EXPORT_STORAGE_ALIASES:
        storage.storage_ping(alias)


CHECKS = {"database": _check_database, "broker": _check_broker, "storage": _check_storage}


def health_report() -> dict:
    """{"status": "ok"|"fail", "checks": {name: {"status", "ms", "error"?}}}; never raises."""
    started = {name: (time.monotonic(), _pool.submit(check)) for name, check in CHECKS.items()}
    checks = {}
    for name, (began, future) in started.items():
        try:
            future.result(timeout=max(0.1, _TIMEOUT_SECONDS - (time.monotonic() - began)))
            checks[name] = {"status": "ok"}
        except concurrent.futures.TimeoutError:
            checks[name] = {"status": "fail", "error": f"no answer within {_TIMEOUT_SECONDS:g}s"}
        except Exception as exc:  # noqa: BLE001 - report, never raise
            checks[name] = {"status": "fail", "error": f"{type(exc).__name__}: {exc}"[:300]}
        checks[name]["ms"] = round((time.monotonic() - began) * 1000, 1)
    status = "ok" if all(check["status"] == "ok" for check in checks.values()) else "fail"
    return {"status": status, "checks": checks}
