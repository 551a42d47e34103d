"""What the soak asks for and how it checks what it got: one body per export type and campaign,
requests that ride out a database restart, and a digest of a finished job's content."""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, close_old_connections, connections

T = TypeVar("T")


def with_database(call: Callable[[], T], *, seconds: float = 120) -> T:
    """`call()`, again after a fresh connection while the database is down (a soak fault)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return call()
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                raise
            for connection in connections.all():
                connection.close()
            time.sleep(0.5)
        finally:
            close_old_connections()


def bodies(campaign_id: int) -> list[dict]:
    """A request body for every export type on this campaign."""
    from campaigns.models import Code
    from exports.types import EXPORT_TYPES

    date_key = Code.objects.filter(campaign_id=campaign_id).exclude(date_key="").values_list("date_key", flat=True)
    extra = {
        "codeWaves": {"dateKey": date_key.first() or ""},
        "reminderEmailSample": {"sampleSize": 50},
    }
    return [{"exportType": key, **extra.get(key, {})} for key in EXPORT_TYPES]


def request(campaign_id: int, body: dict, user) -> str:
    from exports.services import export_request

    export, _ = with_database(lambda: export_request(campaign_id=campaign_id, body=body, user=user))
    return str(export.pk)


def content_digest(export, read: Callable[[str, str], bytes]) -> str:
    """sha256 of what a finished job holds: the bytes of a single file; for a ZIP its members'
    contents in order (member timestamps and names carry the job's start, so two jobs' ZIP bytes
    differ); for several objects their contents in key order (the keys carry the job's date)."""
    from exports.types import EXPORT_TYPES
    from exports.types.base import OutputShape

    shape = EXPORT_TYPES[export.export_type].output
    digest = hashlib.sha256()
    if shape is OutputShape.SINGLE:
        digest.update(read(export.storage_alias, export.storage_key))
    elif shape is OutputShape.ZIP:
        with zipfile.ZipFile(io.BytesIO(read(export.storage_alias, export.storage_key))) as archive:
            for member in archive.infolist():
                digest.update(archive.read(member) + b"\0")
    else:
        for key in sorted(export.storage_keys):
            digest.update(read(export.storage_alias, key) + b"\0")
    return digest.hexdigest()
