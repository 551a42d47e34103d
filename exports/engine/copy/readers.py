"""Reader threads of the fast path: COPY batches read at once on connections of their own,
handed back to the job's thread in key order."""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

from django.db import connections

from exports import db_retry
from exports.engine.copy.rows import BatchStatement, Chunk, planner_settings_apply

if TYPE_CHECKING:
    from exports.engine.copy import BatchPlan

_DONE = object()
_JOIN_SECONDS = 30


class _Stopped(Exception):
    """The pool is shutting down: a reader leaves its batch."""


class ReaderPool:
    """Threads that each run COPY batches on their own database connection. Batches are
    handed out in key order and their chunks come back through one bounded queue per batch,
    so at most `readers` batches are read at once and memory stays bounded."""

    def __init__(self, statement: BatchStatement, readers: int, *, queue_chunks: int):
        self._statement = statement
        self._readers = readers
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._queue_chunks = queue_chunks
        self._threads = [
            threading.Thread(target=self._work, name=f"copy-reader-{index}", daemon=True) for index in range(readers)
        ]

    def __enter__(self) -> ReaderPool:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            # A reader stuck in a COPY of a hung server is left behind (a daemon thread).
            thread.join(timeout=_JOIN_SECONDS)

    def batches(self, plan: BatchPlan) -> Iterator[Iterator[Chunk]]:
        """Each batch's chunks, batch after batch in key order; `readers` batches in flight."""
        in_flight: deque[queue.Queue] = deque()
        while True:
            while len(in_flight) < self._readers and (bounds := plan.next_bounds()) is not None:
                results: queue.Queue = queue.Queue(maxsize=self._queue_chunks)
                self._jobs.put((bounds, results))
                in_flight.append(results)
            if not in_flight:
                return
            yield self._drain(in_flight.popleft())

    def _drain(self, results: queue.Queue) -> Iterator[Chunk]:
        while True:
            try:
                item = results.get(timeout=0.2)
            except queue.Empty:
                if self._failure is not None:
                    raise self._failure from None
                continue
            if item is _DONE:
                return
            yield item

    def _work(self) -> None:
        try:
            planner_settings_apply(self._statement.using)  # no RESET: the connection is closed at the end
            while (job := self._jobs.get()) is not None:
                bounds, results = job
                for chunk in self._statement.chunks(*bounds):
                    self._put(results, chunk)
                self._put(results, _DONE)
        except _Stopped:
            pass
        except BaseException as error:  # noqa: BLE001 - handed to the job's thread, which raises it
            db_retry.note_if_connection_lost(error)  # only this thread can tell: it is this connection
            self._failure = error
        finally:
            connections[self._statement.using].close()  # this thread's own connection

    def _put(self, results: queue.Queue, item) -> None:
        while True:
            if self._stop.is_set():
                raise _Stopped()
            try:
                results.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
