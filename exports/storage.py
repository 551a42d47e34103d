"""Thin wrappers over the configured django-storages backends: multipart uploads and links.

Each storage alias (settings.STORAGES) is either S3 (storages.backends.s3.S3Storage) or a local
folder (FileSystemStorage). Both expose the same explicit upload steps, start → write_part →
complete | abort, so callers can checkpoint, resume and parallelise on them. No business rules.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard, cast

from django.core import signing
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.urls import reverse

from exportsite.conf import export_settings

if TYPE_CHECKING:
    from storages.backends.s3 import S3Storage

DOWNLOAD_SALT = "exports.download"
UPLOADS_DIR = ".uploads"
DATA_FILE = "data"
KEY_FILE = "key"


@dataclass(frozen=True)
class UploadedPart:
    number: int
    etag: str
    size: int


class MultipartUpload(ABC):
    """One object being written in numbered parts; invisible until `complete`."""

    def __init__(self, *, key: str, upload_id: str = ""):
        self.key = key
        self.upload_id = upload_id

    @abstractmethod
    def start(self) -> str:
        """Begin the upload and return its id (kept on the job so it can be aborted later)."""

    @abstractmethod
    def write_part(self, number: int, data: bytes | bytearray) -> UploadedPart: ...

    @abstractmethod
    def complete(self, parts: list[UploadedPart]) -> None: ...

    @abstractmethod
    def abort(self) -> None:
        """Discard every uploaded part; safe to call twice or after a crash."""

    @abstractmethod
    def is_open(self) -> bool:
        """True while the upload can still take parts (not completed, not aborted)."""


def _is_s3(storage: Storage) -> TypeGuard[S3Storage]:
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


def _s3_client(storage: S3Storage) -> Any:
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


def _folder(storage: Storage) -> Path:
    """The root folder of a local (FileSystemStorage) export storage."""
    return Path(cast(FileSystemStorage, storage).location)


class S3MultipartUpload(MultipartUpload):
    def __init__(self, storage: S3Storage, *, key: str, content_type: str, acl: str, upload_id: str = ""):
        super().__init__(key=key, upload_id=upload_id)
        self._client = _s3_client(storage)
        self._bucket = storage.bucket_name
        self._content_type = content_type
        self._acl = acl

    def start(self) -> str:
        options = {"ContentType": self._content_type}
        if self._acl and self._acl != "private":
            # "private" is S3's default; sending it explicitly fails on buckets with ACLs disabled
            # (the AWS default since 2023) and needs s3:PutObjectAcl, so it is only implied.
            options["ACL"] = self._acl
        response = self._client.create_multipart_upload(Bucket=self._bucket, Key=self.key, **options)
        self.upload_id = response["UploadId"]
        return self.upload_id

    def write_part(self, number: int, data: bytes | bytearray) -> UploadedPart:
        response = self._client.upload_part(
            Bucket=self._bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=data
        )
        return UploadedPart(number=number, etag=response["ETag"], size=len(data))

    def complete(self, parts: list[UploadedPart]) -> None:
        self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]},
        )

    def abort(self) -> None:
        if not self.upload_id:
            return
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self.key, UploadId=self.upload_id)
        except self._client.exceptions.NoSuchUpload:
            pass

    def is_open(self) -> bool:
        if not self.upload_id:
            return False
        try:
            self._client.list_parts(Bucket=self._bucket, Key=self.key, UploadId=self.upload_id, MaxParts=1)
        except self._client.exceptions.NoSuchUpload:
            return False
        return True


class FilesystemMultipartUpload(MultipartUpload):
    """Parts are appended, in order, to one file under `<location>/.uploads/<upload id>/`; each
    part leaves a marker naming where it ends, so a resumed upload (or a part sent again) is
    written from the end of the part before it. Completing is a rename: the file is never
    copied (joining part files at the end cost ~0.2 s per 250 MB)."""

    def __init__(self, storage: FileSystemStorage, *, key: str, upload_id: str = ""):
        super().__init__(key=key, upload_id=upload_id)
        self._storage = storage

    @property
    def _parts_dir(self) -> Path:
        return _folder(self._storage) / UPLOADS_DIR / self.upload_id

    @property
    def _data(self) -> Path:
        return self._parts_dir / DATA_FILE

    def _end_of(self, number: int) -> int:
        """Where part `number` ends in the data file (0 before the first part)."""
        if number < 1:
            return 0
        marker = self._parts_dir / f"{number:05d}.end"
        if not marker.exists():
            raise FileNotFoundError(f"upload {self.upload_id}: part {number} was never written")
        return int(marker.read_text(encoding="ascii"))

    def start(self) -> str:
        self.upload_id = uuid.uuid4().hex
        self._parts_dir.mkdir(parents=True, exist_ok=False)
        (self._parts_dir / KEY_FILE).write_text(self.key, encoding="utf-8")
        self._data.touch()
        return self.upload_id

    def write_part(self, number: int, data: bytes | bytearray) -> UploadedPart:
        start = self._end_of(number - 1)
        with self._data.open("r+b") as out:
            out.seek(start)
            out.write(data)
            out.truncate()  # a part sent again replaces everything after the part before it
        for stale in self._parts_dir.glob("*.end"):
            if int(stale.stem) >= number:
                stale.unlink()
        marker = self._parts_dir / f"{number:05d}.end"
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(str(start + len(data)), encoding="ascii")
        os.replace(tmp, marker)
        return UploadedPart(number=number, etag=f"{number}-{len(data)}", size=len(data))

    def complete(self, parts: list[UploadedPart]) -> None:
        numbers = sorted(part.number for part in parts)
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"upload {self.upload_id}: parts must be 1..n, got {numbers}")
        size = sum(part.size for part in parts)
        if self._end_of(len(numbers)) != size:
            raise ValueError(f"upload {self.upload_id}: the parts hold {self._end_of(len(numbers))} bytes, not {size}")
        with self._data.open("r+b") as out:
            out.truncate(size)  # drop anything a later, unlisted part wrote
        target = Path(self._storage.path(self.key))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._data, target)
        shutil.rmtree(self._parts_dir, ignore_errors=True)

    def is_open(self) -> bool:
        return bool(self.upload_id) and self._parts_dir.is_dir()

    def abort(self) -> None:
        if not self.upload_id:
            return
        shutil.rmtree(self._parts_dir, ignore_errors=True)
        target = Path(self._storage.path(self.key))
        for leftover in target.parent.glob(f".{target.name}.{self.upload_id}.tmp"):
            leftover.unlink(missing_ok=True)


def multipart_upload(alias: str, *, key: str, content_type: str, acl: str, upload_id: str = "") -> MultipartUpload:
    """The upload object for `key` in storage `alias` (pass `upload_id` to resume or abort one)."""
    storage = storages[alias]
    if _is_s3(storage):
        return S3MultipartUpload(storage, key=key, content_type=content_type, acl=acl, upload_id=upload_id)
    if isinstance(storage, FileSystemStorage):
        return FilesystemMultipartUpload(storage, key=key, upload_id=upload_id)
    raise TypeError(f"Storage {alias!r} ({type(storage).__name__}) supports no multipart uploads")


def object_exists(alias: str, key: str) -> bool:
    storage = storages[alias]
    if _is_s3(storage):
        client = _s3_client(storage)
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
    if _is_s3(storage):
        _s3_client(storage).delete_object(Bucket=storage.bucket_name, Key=key)
    else:
        storage.delete(key)


def object_open(alias: str, key: str):
    return storages[alias].open(key, "rb")


def storage_location(alias: str) -> tuple[str, ...]:
    """Where an alias keeps its objects: aliases with the same location share one bucket (or folder)."""
    backend = storages[alias]
    if _is_s3(backend):
        return ("s3", str(getattr(backend, "endpoint_url", "") or ""), backend.bucket_name)
    return ("folder", str(_folder(backend).resolve()))


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
    if _is_s3(backend):
        paginator = _s3_client(backend).get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=backend.bucket_name, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"], item["LastModified"]
        return
    for key, path in _folder_files(_folder(backend), prefix):
        yield key, datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _folder_uploads(backend: Storage) -> Iterator[tuple[str, str, datetime]]:
    uploads = _folder(backend) / UPLOADS_DIR
    if not uploads.exists():
        return
    for parts_dir in uploads.iterdir():
        key_file = parts_dir / KEY_FILE
        key = key_file.read_text(encoding="utf-8") if key_file.exists() else ""
        yield key, parts_dir.name, datetime.fromtimestamp(parts_dir.stat().st_mtime, UTC)


def list_uploads(alias: str, *, prefix: str) -> Iterator[tuple[str, str, datetime]]:
    """(key, upload id, started) of every multipart upload still open for a key under `prefix`."""
    backend = storages[alias]
    if _is_s3(backend):
        paginator = _s3_client(backend).get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=backend.bucket_name, Prefix=prefix):
            for item in page.get("Uploads", []):
                yield item["Key"], item["UploadId"], item["Initiated"]
        return
    yield from (upload for upload in _folder_uploads(backend) if upload[0].startswith(prefix))


def object_modified(alias: str, key: str) -> datetime | None:
    """When an object was last written; None when there is none."""
    storage = storages[alias]
    if _is_s3(storage):
        client = _s3_client(storage)
        try:
            return client.head_object(Bucket=storage.bucket_name, Key=key)["LastModified"]
        except client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
    return storage.get_modified_time(key) if storage.exists(key) else None


def upload_started(alias: str, *, key: str, upload_id: str) -> datetime | None:
    """When an upload began; None when it is no longer open."""
    found = (started for k, u, started in list_uploads(alias, prefix=key) if (k, u) == (key, upload_id))
    return next(found, None)


def object_sha256(alias: str, key: str) -> str:
    """Hash a stored object by streaming it back (used after a resumed upload)."""
    digest = hashlib.sha256()
    with storages[alias].open(key, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_url(alias: str, key: str, *, filename: str, ttl_seconds: int, base_url: str = "") -> str:
    """A short-lived link: presigned for S3, a signed Django URL for local folders."""
    storage = storages[alias]
    if _is_s3(storage):
        return _s3_client(storage).generate_presigned_url(
            "get_object",
            Params={
                "Bucket": storage.bucket_name,
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
                # The file holds personal data: no browser or proxy may keep a copy.
                "ResponseCacheControl": "private, no-store",
            },
            ExpiresIn=ttl_seconds,
        )
    token = signing.dumps(
        {"a": alias, "k": key, "f": filename, "t": ttl_seconds},
        key=export_settings().download_signing_key,
        salt=DOWNLOAD_SALT,
        compress=True,
    )
    return base_url.rstrip("/") + reverse("exports:download", kwargs={"token": token})


def download_token_read(token: str) -> tuple[str, str, str]:
    """(alias, key, filename) of a signed download token; raises signing.BadSignature if invalid or expired.

    Signed with its own key, never SECRET_KEY or the webhook secret: whoever holds those (every
    webhook receiver holds the latter) cannot forge a link to any file."""
    key = export_settings().download_signing_key
    unverified = signing.loads(token, key=key, salt=DOWNLOAD_SALT)
    data = signing.loads(token, key=key, salt=DOWNLOAD_SALT, max_age=int(unverified["t"]))
    return data["a"], data["k"], data["f"]


def storage_ping(alias: str) -> None:
    """Raise if the storage cannot be reached (used by /heartbeat)."""
    storage = storages[alias]
    if _is_s3(storage):
        _s3_client(storage).head_bucket(Bucket=storage.bucket_name)
    else:
        folder = _folder(storage)
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise OSError(f"{folder} is not writable")
