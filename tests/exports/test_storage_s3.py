"""S3 storage (moto's server): one boto3 client per process, and object calls through it."""

import threading
import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from exports import storage
from tests.conftest import uses_s3

pytestmark = pytest.mark.skipif(not uses_s3(), reason="S3 storage only (EXPORTSITE_TEST_S3=1)")


def test_every_alias_and_thread_shares_one_client():
    # django-storages builds a boto3 resource per thread and per alias (~15 MB each).
    first = storage._s3_client(storages["exports"])
    from_thread = []
    thread = threading.Thread(target=lambda: from_thread.append(storage._s3_client(storages["scoring"])))
    thread.start()
    thread.join()
    assert from_thread == [first]
    assert storage._s3_client(storages["sfmc"]) is first


def test_exists_and_delete_on_s3():
    key = f"test/{uuid.uuid4().hex}.csv"
    assert storage.object_exists("exports", key) is False
    storages["exports"].save(key, ContentFile(b"a,b\r\n"))
    assert storage.object_exists("exports", key) is True
    storage.object_delete("exports", key)
    assert storage.object_exists("exports", key) is False
    storage.object_delete("exports", key)  # deleting what is gone is not an error (S3's rule)
