"""Riding out a database outage (a restart, a failover, a dropped connection) on this thread's
connection: close the dead connection and try again with bounded backoff, for at most
EXPORTS_DB_RETRY_SECONDS.

Only a lost connection is retried (an OperationalError or InterfaceError after which the
connection no longer answers): a query that failed on a live connection raises at once. Never
inside an atomic block: the transaction died with the connection, so repeating one statement
of it would be wrong. Web requests do not wait (`without_waiting`): their client gets a 503
with Retry-After and asks again, instead of holding a web thread for the whole budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from django.db import DatabaseError, InterfaceError, OperationalError, connection

from exportsite.conf import export_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Backoff between tries: short at first (a dropped connection to a live server reconnects at
# once), then at most one second, so a server that is back is noticed within a second.
_FIRST_DELAY, _MAX_DELAY = 0.05, 1.0

_waiting: ContextVar[bool] = ContextVar("exports_db_retry_waiting", default=True)


@contextmanager
def without_waiting() -> Iterator[None]:
    """Within this block a lost connection raises at once (web requests)."""
    token = _waiting.set(False)
    try:
        yield
    finally:
        _waiting.reset(token)


def is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError | InterfaceError)


def connection_lost() -> bool:
    """This thread's connection is gone or no longer answers (it is checked with SELECT 1)."""
    return connection.connection is None or not connection.is_usable()


_LOST_MARK = "exports_connection_was_lost"


def note_if_connection_lost(exc: BaseException) -> None:
    """For an error raised on a connection of another thread (the COPY readers): remember on the
    exception whether that connection was lost. The job's thread can only look at its own
    connection, which may have reconnected (a heartbeat rode out the outage) by the time the
    reader's error reaches it."""
    if is_connection_error(exc) and connection_lost():
        setattr(exc, _LOST_MARK, True)


def lost_its_connection(exc: BaseException) -> bool:
    """The error was noted (note_if_connection_lost) as raised on a connection that was lost."""
    return bool(getattr(exc, _LOST_MARK, False))


def _close_quietly() -> None:
    try:
        connection.close()
    except DatabaseError:
        connection.connection = None  # closing a broken connection may fail; drop it anyway


def retried(operation: Callable[[bool], T], *, what: str) -> T:
    """`operation(retrying)` on this thread's connection, tried again while the connection is
    lost, for at most EXPORTS_DB_RETRY_SECONDS. `retrying` is True on every try after a lost
    connection: the earlier try's statement may have been committed with only its reply lost."""
    deadline: float | None = None
    started, delay, retrying = 0.0, _FIRST_DELAY, False
    while True:
        try:
            result = operation(retrying)
        except (OperationalError, InterfaceError) as exc:
            if connection.in_atomic_block or not _waiting.get() or not connection_lost():
                raise
            _close_quietly()
            now = time.monotonic()
            if deadline is None:
                deadline = now + export_settings().db_retry_seconds
                started = now
                # The type only: a driver's message can quote a statement's values.
                logger.warning("database connection lost; retrying", extra={"what": what, "error": type(exc).__name__})
            if now + delay > deadline:
                logger.error("database still unavailable; giving up", extra={"what": what})
                raise
            time.sleep(delay)
            delay, retrying = min(_MAX_DELAY, delay * 2), True
            continue
        if retrying:
            logger.warning(
                "database connection restored", extra={"what": what, "seconds": round(time.monotonic() - started, 2)}
            )
        return result


def wait_for_database(*, what: str) -> bool:
    """After a connection error: if this thread's connection is lost, close it and wait (as
    `retried` does) until the database answers again. True when it had been lost, which means
    the error was an outage, now over; False when the connection was fine all along."""
    if connection.in_atomic_block or not connection_lost():
        return False
    _close_quietly()
    retried(lambda _retrying: connection.ensure_connection(), what=what)
    return True
