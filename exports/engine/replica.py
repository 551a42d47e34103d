"""Export reads from a streaming replica (DATABASE_REPLICA_URL).

A job's snapshot records the primary's WAL position right after its bounds are read. A run
reads the campaign's rows from the replica only once the replica has replayed that position, so
the replica holds every row the bounds cover; when that takes longer than
EXPORTS_REPLICA_WAIT_SECONDS, or the replica does not answer, the run reads from the primary
and logs why. The job table and every write stay on the primary (exportsite/db_router.py)."""

from __future__ import annotations

import logging
import time

from django.db import DatabaseError, connection, connections

from exportsite.conf import export_settings

logger = logging.getLogger(__name__)

# The snapshot key of the primary's WAL position when the bounds were taken.
WAL_POSITION = "wal_position"
_POLL_SECONDS = 0.05


def wal_position_for_snapshot() -> dict[str, str]:
    """{WAL_POSITION: the primary's position now}, when a replica is configured (else {})."""
    if not export_settings().replica_alias or connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return {WAL_POSITION: cursor.fetchone()[0]}


def read_alias(snapshot: dict, log: dict) -> str:
    """The database this run reads the campaign's rows from: the replica once it has replayed
    the snapshot's WAL position, otherwise the primary ("default")."""
    alias, wait = export_settings().replica_alias, export_settings().replica_wait_seconds
    if not alias:
        return "default"
    # A snapshot taken before the replica was configured: the position now covers it too.
    position = snapshot.get(WAL_POSITION) or wal_position_for_snapshot().get(WAL_POSITION)
    if position is None:  # the primary is not PostgreSQL: it has no WAL to wait for
        return "default"
    started = time.monotonic()
    try:
        with connections[alias].cursor() as cursor:
            while True:
                cursor.execute(
                    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn() >= %s::pg_lsn, "
                    "pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn())",
                    [position, position],
                )
                in_recovery, replayed, behind = cursor.fetchone()
                waited = time.monotonic() - started
                if replayed or not in_recovery:  # caught up (or a primary given as the replica)
                    logger.info(
                        "export reads from the replica",
                        extra={**log, "wal_position": position, "waited_seconds": round(waited, 3)},
                    )
                    return alias
                if waited >= wait:
                    break
                time.sleep(_POLL_SECONDS)
    except DatabaseError as error:
        connections[alias].close()
        logger.warning(
            "export reads from the primary: the replica does not answer",
            extra={**log, "error": type(error).__name__},
        )
        return "default"
    logger.warning(
        "export reads from the primary: the replica is behind",
        extra={**log, "wal_position": position, "waited_seconds": round(waited, 3), "behind_bytes": int(behind or 0)},
    )
    return "default"
