"""Where the ORM reads: a running export reads the campaign's rows from the alias it chose
(exports/engine/replica.py: the streaming replica once it has replayed the job's snapshot, or
the primary); everything else, and every write, uses "default"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Set only around the rows of a running export, in the job's own thread.
_export_reads: ContextVar[str | None] = ContextVar("export_reads", default=None)

# The data an export reads; the job table (app "exports") is the primary's alone.
_EXPORTED_APPS = frozenset({"campaigns"})


@contextmanager
def export_reads_from(alias: str) -> Iterator[None]:
    """Campaign data read in this thread comes from `alias` until the block ends."""
    token = _export_reads.set(alias)
    try:
        yield
    finally:
        _export_reads.reset(token)


def export_reads_alias() -> str:
    return _export_reads.get() or "default"


class ExportReadRouter:
    def db_for_read(self, model, **hints):
        if model._meta.app_label in _EXPORTED_APPS:
            return _export_reads.get()  # None: Django's default
        return None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, copied: rows read from either may relate

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"  # a replica is a copy of the primary's schema
