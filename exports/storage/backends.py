"""Which backend an alias is (S3 or a local folder), and the one S3 client they share."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard, cast

from django.core.files.storage import FileSystemStorage, Storage, storages

if TYPE_CHECKING:
    from storages.backends.s3 import S3Storage


def is_s3(storage: Storage) -> TypeGuard[S3Storage]:
    return hasattr(storage, "bucket_name") and hasattr(storage, "connection")


# What django-storages builds an S3 connection from; aliases that agree on all of them (they
# differ in bucket and ACL only) share one client.
_CLIENT_SETTINGS = (
    "endpoint_url",
    "region_name",
    "access_key",
    "secret_key",
    "security_token",
    "session_profile",
    "use_ssl",
    "verify",
    # settings.py sets no client_config: django-storages derives it from these three.
    "signature_version",
    "addressing_style",
    "proxies",
)
_s3_clients: dict[tuple, Any] = {}
_s3_clients_lock = threading.Lock()


def s3_client(storage: S3Storage) -> Any:
    """One boto3 client per S3 configuration for the whole process, shared by its threads
    (boto3 clients are thread-safe). django-storages builds a boto3 resource per thread and per
    alias, about 15 MB each: a worker whose jobs write to all four aliases held four."""
    config = tuple(repr(getattr(storage, name, None)) for name in _CLIENT_SETTINGS)
    client = _s3_clients.get(config)
    if client is None:
        with _s3_clients_lock:
            client = _s3_clients.get(config)
            if client is None:
                client = _s3_clients[config] = storage.connection.meta.client
    return client


def local_folder(storage: Storage) -> Path:
    """The root folder of a local (FileSystemStorage) export storage."""
    return Path(cast(FileSystemStorage, storage).location)


def storage_location(alias: str) -> tuple[str, ...]:
    """Where an alias keeps its objects: aliases with the same location share one bucket (or folder)."""
    backend = storages[alias]
    if is_s3(backend):
        return ("s3", str(getattr(backend, "endpoint_url", "") or ""), backend.bucket_name)
    return ("folder", str(local_folder(backend).resolve()))


def storage_ping(alias: str) -> None:
    """Raise if the storage cannot be reached (used by /heartbeat)."""
    storage = storages[alias]
    if is_s3(storage):
        s3_client(storage).head_bucket(Bucket=storage.bucket_name)
    else:
        folder = local_folder(storage)
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise OSError(f"{folder} is not writable")
