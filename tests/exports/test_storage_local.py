"""The local-folder multipart upload: parts appended in order to one file, resumable, completed
by a rename (the S3 one is exercised against moto by the rest of the suite)."""

from pathlib import Path

import pytest

from exports import storage
from tests.conftest import read_export_bytes, stored_keys, uses_s3

pytestmark = pytest.mark.skipif(uses_s3(), reason="local-folder storage only")


def _upload(key: str = "local/test.tsv", upload_id: str = "") -> storage.MultipartUpload:
    return storage.multipart_upload("exports", key=key, content_type="text/plain", acl="private", upload_id=upload_id)


class _Stored:
    storage_alias = "exports"

    def __init__(self, key: str):
        self.storage_key = key


def test_parts_are_joined_in_order_and_completing_moves_the_file():
    upload = _upload()
    upload.start()
    parts = [upload.write_part(1, b"alpha-"), upload.write_part(2, bytearray(b"beta-")), upload.write_part(3, b"gamma")]
    upload.complete(parts)
    assert read_export_bytes(_Stored("local/test.tsv")) == b"alpha-beta-gamma"  # type: ignore[arg-type]
    assert stored_keys() == ["local/test.tsv"]
    assert not upload.is_open()


def test_a_resumed_upload_rewrites_from_the_end_of_the_last_kept_part():
    first = _upload()
    upload_id = first.start()
    kept = [first.write_part(1, b"one-"), first.write_part(2, b"two-")]
    first.write_part(3, b"three-from-the-crashed-attempt-")  # uploaded, but never checkpointed
    resumed = _upload(upload_id=upload_id)
    assert resumed.is_open()
    parts = kept + [resumed.write_part(3, b"three-"), resumed.write_part(4, b"four")]
    resumed.complete(parts)
    assert read_export_bytes(_Stored("local/test.tsv")) == b"one-two-three-four"  # type: ignore[arg-type]


def test_completing_with_parts_it_does_not_hold_fails_and_keeps_the_upload():
    upload = _upload()
    upload.start()
    part = upload.write_part(1, b"data")
    with pytest.raises(ValueError, match="parts must be 1..n"):
        upload.complete([storage.UploadedPart(number=2, etag="x", size=4)])
    with pytest.raises(ValueError, match="hold 4 bytes, not 9"):
        upload.complete([storage.UploadedPart(number=1, etag=part.etag, size=9)])
    assert upload.is_open() and stored_keys() == []
    upload.abort()
    assert not upload.is_open()
    assert not any(Path(storage._folder(storage.storages["exports"])).rglob("data"))
