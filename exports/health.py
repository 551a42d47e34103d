"""Health checks for /heartbeat: database, broker, storage, each bounded by a short timeout.

The checks run in parallel on a small pool. A check that hangs (a frozen Redis, a black-holed
S3 endpoint) is reported as failed once the budget is spent, and is not started again while it
still runs: the next heartbeats wait on the same attempt. So a hung dependency holds at most one
thread per check, and never delays the other checks or the answer.

/heartbeat is anonymous, so it answers only ok or fail (and the time) per check; why a check
failed, and which backend answered, go to the log (exception texts name hosts and file paths).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time

import dramatiq
from django.db import connection

from exports import storage
from exportsite.conf import export_settings

logger = logging.getLogger(__name__)

_TIMEOUT_SECONDS = 3.0
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=3, thread_name_prefix="health")
_inflight: dict[str, tuple[float, concurrent.futures.Future]] = {}
_inflight_lock = threading.Lock()


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()
    return connection.vendor


def _check_broker() -> str:
    broker = dramatiq.get_broker()
    client = getattr(broker, "client", None)
    if client is not None:  # Redis
        client.ping()
        return "redis"
    if hasattr(broker, "connection"):  # RabbitMQ: opening the channel proves the server answers
        broker.connection  # noqa: B018
        return "rabbitmq"
    if type(broker).__name__ == "StubBroker":
        # No broker URL: messages live in this process and its in-process worker consumes them.
        return "in-process"
    return type(broker).__name__


def _check_storage() -> str:
    conf = export_settings()
    for alias in conf.storage_aliases:
        storage.storage_ping(alias)
    kinds = {"s3" if "s3" in conf.storages[alias]["BACKEND"].lower() else "local" for alias in conf.storage_aliases}
    return ",".join(sorted(kinds))


CHECKS = {"database": _check_database, "broker": _check_broker, "storage": _check_storage}


def _start(name: str) -> tuple[float, concurrent.futures.Future]:
    """The running attempt of check `name`, or a new one when none is running."""
    with _inflight_lock:
        current = _inflight.get(name)
        if current is None or current[1].done():
            current = (time.monotonic(), _pool.submit(CHECKS[name]))
            _inflight[name] = current
        return current


def health_report() -> dict:
    """{"status": "ok"|"fail", "failed": [names], "checks": {name: {"status", "ms", "backend"?, "error"?}}};
    never raises, answers within about _TIMEOUT_SECONDS."""
    asked = time.monotonic()
    started = {name: _start(name) for name in CHECKS}
    checks: dict[str, dict] = {}
    for name, (began, future) in started.items():
        try:
            backend = future.result(timeout=max(0.0, _TIMEOUT_SECONDS - (time.monotonic() - asked)))
            checks[name] = {"status": "ok", "backend": backend}
        except concurrent.futures.TimeoutError:
            waited = time.monotonic() - began
            error = f"no answer within {_TIMEOUT_SECONDS:g}s (running for {waited:.1f}s)"
            checks[name] = {"status": "fail", "error": error}
        except Exception as exc:  # noqa: BLE001 - report, never raise
            checks[name] = {"status": "fail", "error": f"{type(exc).__name__}: {exc}"[:300]}
        checks[name]["ms"] = round((time.monotonic() - max(began, asked)) * 1000, 1)
    failed = [name for name, check in checks.items() if check["status"] != "ok"]
    return {"status": "fail" if failed else "ok", "failed": failed, "checks": checks}


def health_public_report() -> dict:
    """`health_report()` without `backend` and `error`, for anonymous callers:
    {"status", "failed", "checks": {name: {"status", "ms"}}}. Each failure is logged (warning)
    with its error; the checks touch no personal data, so neither does the log line."""
    report = health_report()
    for name in report["failed"]:
        check = report["checks"][name]
        logger.warning("health check failed", extra={"check": name, "error": check.get("error"), "ms": check["ms"]})
    checks = {name: {"status": check["status"], "ms": check["ms"]} for name, check in report["checks"].items()}
    return {"status": report["status"], "failed": report["failed"], "checks": checks}
