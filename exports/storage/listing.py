"""What lies under a key prefix: stored objects and open multipart uploads (for orphan clean-up)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from django.core.files.storage import Storage, storages

from exports.storage.backends import is_s3, local_folder, s3_client
from exports.storage.uploads import KEY_FILE, UPLOADS_DIR, multipart_upload


def _folder_files(root: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    base = root.joinpath(*[part for part in prefix.split("/") if part])
    if not base.is_dir():
        return
    for path in base.rglob("*"):
        key = path.relative_to(root).as_posix()
        if path.is_file() and key.startswith(prefix) and not path.name.endswith(".tmp"):
            yield key, path


def list_objects(alias: str, *, prefix: str) -> Iterator[tuple[str, datetime]]:
    """(key, last modified) of every stored object under `prefix`, multipart parts excluded.
    There is no whole-bucket listing: a bucket may hold other systems' objects."""
    if not prefix.endswith("/") or prefix.startswith(("/", UPLOADS_DIR)):
        raise ValueError(f"not a key prefix: {prefix!r}")
    backend = storages[alias]
    if is_s3(backend):
        paginator = s3_client(backend).get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=backend.bucket_name, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"], item["LastModified"]
        return
    for key, path in _folder_files(local_folder(backend), prefix):
        yield key, datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _folder_uploads(backend: Storage) -> Iterator[tuple[str, str, datetime]]:
    uploads = local_folder(backend) / UPLOADS_DIR
    if not uploads.exists():
        return
    for parts_dir in uploads.iterdir():
        key_file = parts_dir / KEY_FILE
        key = key_file.read_text(encoding="utf-8") if key_file.exists() else ""
        yield key, parts_dir.name, datetime.fromtimestamp(parts_dir.stat().st_mtime, UTC)


def list_uploads(alias: str, *, prefix: str) -> Iterator[tuple[str, str, datetime]]:
    """(key, upload id, started) of every multipart upload still open for a key under `prefix`."""
    backend = storages[alias]
    if is_s3(backend):
        paginator = s3_client(backend).get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=backend.bucket_name, Prefix=prefix):
            for item in page.get("Uploads", []):
                yield item["Key"], item["UploadId"], item["Initiated"]
        return
    yield from (upload for upload in _folder_uploads(backend) if upload[0].startswith(prefix))


def abort_uploads_of(alias: str, key: str) -> int:
    """Abort every multipart upload still open for exactly `key` (also those whose id nobody
    recorded: a worker killed between starting an upload and recording it); how many."""
    found = [upload_id for k, upload_id, _ in list_uploads(alias, prefix=key) if k == key]
    for upload_id in found:
        multipart_upload(alias, key=key, content_type="", acl="private", upload_id=upload_id).abort()
    return len(found)


def upload_started(alias: str, *, key: str, upload_id: str) -> datetime | None:
    """When an upload began; None when it is no longer open."""
    found = (started for k, u, started in list_uploads(alias, prefix=key) if (k, u) == (key, upload_id))
    return next(found, None)
