"""One stored object: whether it exists, when it was written, its bytes, its hash; deleting it."""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.core.files.storage import storages

from exports.storage.backends import is_s3, s3_client


def object_exists(alias: str, key: str) -> bool:
    storage = storages[alias]
    if is_s3(storage):
        client = s3_client(storage)
        try:
            client.head_object(Bucket=storage.bucket_name, Key=key)
        except client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True
    return storage.exists(key)


def object_delete(alias: str, key: str) -> None:
    storage = storages[alias]
    if is_s3(storage):
        s3_client(storage).delete_object(Bucket=storage.bucket_name, Key=key)
    else:
        storage.delete(key)


def object_open(alias: str, key: str):
    return storages[alias].open(key, "rb")


def object_modified(alias: str, key: str) -> datetime | None:
    """When an object was last written; None when there is none."""
    storage = storages[alias]
    if is_s3(storage):
        client = s3_client(storage)
        try:
            return client.head_object(Bucket=storage.bucket_name, Key=key)["LastModified"]
        except client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
    return storage.get_modified_time(key) if storage.exists(key) else None


def object_sha256(alias: str, key: str) -> str:
    """Hash a stored object by streaming it back (used after a resumed upload)."""
    digest = hashlib.sha256()
    with storages[alias].open(key, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()
