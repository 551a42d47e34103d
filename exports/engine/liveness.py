"""Process liveness: a running export looks dead only when its worker process is.

A run's own heartbeat (Run.check) comes from its row loop, which can be busy for a long time
without being dead: a COPY batch holding the job's connection, a part upload the loop waits
for. So every worker process also beats for its runs: `beat()`, called every
EXPORTS_LIVENESS_INTERVAL_SECONDS by one thread per process (worker_middleware.LivenessBeat)
on that thread's own database connection, sets the heartbeat of every attempt the process is
running, whatever their threads are doing. Only a dead or frozen process (or one cut off from
the database) stops beating, which lets the reconciler give a job up after a few seconds
(EXPORTS_STALE_AFTER_SECONDS). The beat is fenced by attempt like every worker write: once a
job was taken over, the old attempt's beat matches nothing.

An attempt is beaten for while its actor is inside `vouch()` and its run has shown life (a
row, a part, a check) in the last SILENT_LIMIT_SECONDS: a thread stuck longer than that is
given up like a dead one, as before this existed. Runs outside `vouch()` (a test calling
export_run directly) only have their own heartbeat.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from exports import states

# Longer than any legitimate silence of a run's thread: boto3 gives up on one part after a few
# minutes of timeouts and retries, and a COPY chunk reports rows as it streams.
SILENT_LIMIT_SECONDS = 600


@dataclass
class LiveAttempt:
    """One running attempt this process vouches for; its run sets `active_at` on every check."""

    export_id: Any
    number: int
    active_at: float = field(default_factory=time.monotonic)


_lock = threading.Lock()
_vouching: set[int] = set()  # threads inside vouch()
_running: dict[int, LiveAttempt] = {}  # thread → the attempt it runs


@contextmanager
def vouch():
    """Around one actor call: the attempt it starts is beaten for until the call returns (or
    raises), so an actor that died with its job still TRIGGERED is not kept alive."""
    thread = threading.get_ident()
    with _lock:
        _vouching.add(thread)
    try:
        yield
    finally:
        with _lock:
            _vouching.discard(thread)
            _running.pop(thread, None)


def attempt_started(*, export_id: Any, number: int) -> LiveAttempt | None:
    """Register the calling thread's new attempt; None outside vouch() (nobody beats for it)."""
    thread = threading.get_ident()
    with _lock:
        if thread not in _vouching:
            return None
        attempt = _running[thread] = LiveAttempt(export_id=export_id, number=number)
    return attempt


def running() -> list[LiveAttempt]:
    with _lock:
        return list(_running.values())


def beat() -> int:
    """One beat: the heartbeat of every attempt this process runs that has shown life lately,
    in one UPDATE. Returns how many jobs it matched (a taken-over attempt matches none)."""
    quiet_before = time.monotonic() - SILENT_LIMIT_SECONDS
    attempts = [attempt for attempt in running() if attempt.active_at >= quiet_before]
    if not attempts:
        return 0
    return states.record_heartbeats([(attempt.export_id, attempt.number) for attempt in attempts])
