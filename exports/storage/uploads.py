"""Multipart uploads on S3 or a local folder: start → write_part → complete | abort.

The steps are explicit so callers can checkpoint, resume and parallelise on them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.files.storage import FileSystemStorage, storages

from exports.storage.backends import is_s3, local_folder, s3_client

if TYPE_CHECKING:
    from storages.backends.s3 import S3Storage

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

    # True when a part can be written piece by piece as its bytes come (a local file), so the
    # uploader holds no part in memory; S3 takes each part whole.
    streams_parts = False

    def __init__(self, *, key: str, upload_id: str = ""):
        self.key = key
        self.upload_id = upload_id

    @abstractmethod
    def start(self) -> str:
        """Begin the upload and return its id (kept on the job so it can be aborted later)."""

    @abstractmethod
    def write_part(self, number: int, data: bytes | bytearray) -> UploadedPart: ...

    def part_stream(self, number: int) -> PartStream:
        """Part `number`, to be written piece by piece (only where `streams_parts`)."""
        raise NotImplementedError(f"{type(self).__name__} takes whole parts only")

    @abstractmethod
    def complete(self, parts: list[UploadedPart]) -> None: ...

    @abstractmethod
    def abort(self) -> None:
        """Discard every uploaded part; safe to call twice or after a crash."""

    @abstractmethod
    def is_open(self) -> bool:
        """True while the upload can still take parts (not completed, not aborted)."""


class S3MultipartUpload(MultipartUpload):
    def __init__(self, storage: S3Storage, *, key: str, content_type: str, acl: str, upload_id: str = ""):
        super().__init__(key=key, upload_id=upload_id)
        self._client = s3_client(storage)
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

    streams_parts = True

    def __init__(self, storage: FileSystemStorage, *, key: str, upload_id: str = ""):
        super().__init__(key=key, upload_id=upload_id)
        self._storage = storage

    @property
    def _parts_dir(self) -> Path:
        return local_folder(self._storage) / UPLOADS_DIR / self.upload_id

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
        part = self.part_stream(number)
        try:
            part.write(data)
        except BaseException:
            part.close()
            raise
        return part.finish()

    def part_stream(self, number: int) -> PartStream:
        return LocalPart(self, number)

    def _part_ended(self, number: int, end: int) -> None:
        """Part `number` ends at `end`: its marker, and none for a later part (sent before)."""
        for stale in self._parts_dir.glob("*.end"):
            if int(stale.stem) >= number:
                stale.unlink()
        marker = self._parts_dir / f"{number:05d}.end"
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(str(end), encoding="ascii")
        os.replace(tmp, marker)

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


class PartStream(ABC):
    """One part being written piece by piece."""

    @abstractmethod
    def write(self, data: bytes | bytearray) -> None: ...

    @abstractmethod
    def finish(self) -> UploadedPart:
        """The part is whole: record it."""

    @abstractmethod
    def close(self) -> None:
        """Give the part up unfinished (after an error)."""


class LocalPart(PartStream):
    """A part of a local upload: written from where the part before it ends. A part sent again
    replaces everything after that; a new part leaves the file as it is (a truncate on every
    part made each one a few milliseconds slower)."""

    def __init__(self, upload: FilesystemMultipartUpload, number: int):
        self._upload, self.number = upload, number
        self._start = upload._end_of(number - 1)
        self._size = 0
        self._file = upload._data.open("r+b")
        if os.fstat(self._file.fileno()).st_size > self._start:
            self._file.truncate(self._start)
        self._file.seek(self._start)

    def write(self, data: bytes | bytearray) -> None:
        self._file.write(data)
        self._size += len(data)

    def finish(self) -> UploadedPart:
        self._file.close()
        self._upload._part_ended(self.number, self._start + self._size)
        return UploadedPart(number=self.number, etag=f"{self.number}-{self._size}", size=self._size)

    def close(self) -> None:
        self._file.close()


def multipart_upload(alias: str, *, key: str, content_type: str, acl: str, upload_id: str = "") -> MultipartUpload:
    """The upload object for `key` in storage `alias` (pass `upload_id` to resume or abort one)."""
    storage = storages[alias]
    if is_s3(storage):
        return S3MultipartUpload(storage, key=key, content_type=content_type, acl=acl, upload_id=upload_id)
    if isinstance(storage, FileSystemStorage):
        return FilesystemMultipartUpload(storage, key=key, upload_id=upload_id)
    raise TypeError(f"Storage {alias!r} ({type(storage).__name__}) supports no multipart uploads")
