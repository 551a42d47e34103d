import shutil
import signal
import time
import uuid
from typing import TYPE_CHECKING, cast

import dramatiq
import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from exports import storage
from exports.models import Export
from tests.factories import CampaignFactory, GroupFactory, MarketFactory, UserFactory
from tests.processes import Procs, RedisServer

if TYPE_CHECKING:
    from django.core.files.storage import FileSystemStorage
    from storages.backends.s3 import S3Storage

TERMINAL = {"FINISHED", "FAILED", "CANCELLED", "EXPIRED"}


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def uses_s3() -> bool:
    return "s3" in settings.STORAGES["exports"]["BACKEND"].lower()


@pytest.fixture
def access_group():
    return GroupFactory(name=f"campaign-staff-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def campaign(access_group):
    campaign = CampaignFactory(name='Summer Tour, "Live"', access_groups=[access_group])
    MarketFactory(campaign=campaign)
    return campaign


@pytest.fixture
def reporter(access_group):
    """A staff user with the REPORT permission who can see `campaign`."""
    return UserFactory(groups=["Campaign Reporter", access_group])


@pytest.fixture
def outsider():
    """A reporter of some other campaign."""
    other_group = GroupFactory(name=f"other-staff-{uuid.uuid4().hex[:6]}")
    CampaignFactory(name="Other campaign", access_groups=[other_group])
    return UserFactory(groups=["Campaign Reporter", other_group])


def jwt_client(user) -> APIClient:
    client = APIClient()
    response = client.post("/auth/token", {"username": user.username, "password": "pw-123456"}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


@pytest.fixture
def reporter_client(reporter):
    return jwt_client(reporter)


@pytest.fixture
def export_worker(transactional_db):
    """A real Dramatiq worker (threads) on the configured broker: stub, Redis or RabbitMQ."""
    broker = dramatiq.get_broker()
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()
    yield worker
    worker.stop()
    broker.flush_all()


def wait_for_status(export_id, statuses=TERMINAL, timeout: float = 30.0) -> Export:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        export = Export.objects.get(pk=export_id)
        if export.status in statuses:
            return export
        time.sleep(0.05)
    raise AssertionError(f"export {export_id} still {Export.objects.get(pk=export_id).status} after {timeout}s")


def read_export_bytes(export: Export) -> bytes:
    with storage.object_open(export.storage_alias, export.storage_key) as handle:
        return handle.read()


def open_uploads(alias: str = "exports") -> list:
    """Multipart uploads (S3) or part folders (local) still open in a storage."""
    from django.core.files.storage import storages

    backend = storages[alias]
    if uses_s3():
        s3 = cast("S3Storage", backend)
        return s3.connection.meta.client.list_multipart_uploads(Bucket=s3.bucket_name).get("Uploads", [])
    from pathlib import Path

    uploads = Path(cast("FileSystemStorage", backend).location) / ".uploads"
    return sorted(uploads.iterdir()) if uploads.exists() else []


def before_each_part_is_stored(monkeypatch, before) -> None:
    """Call `before(number)` as each part is stored, whichever the storage (it may raise, like a
    failing store): S3 uploads take whole parts (`write_part`), local uploads stream them and
    store one when it ends (`LocalPart.finish`)."""
    from exports.storage.uploads import LocalPart, S3MultipartUpload

    real_write_part, real_finish = S3MultipartUpload.write_part, LocalPart.finish

    def write_part(self, number, data):
        before(number)
        return real_write_part(self, number, data)

    def finish(self):
        before(self.number)
        return real_finish(self)

    monkeypatch.setattr(S3MultipartUpload, "write_part", write_part)
    monkeypatch.setattr(LocalPart, "finish", finish)


def stored_keys(alias: str = "exports") -> list[str]:
    from django.core.files.storage import storages

    backend = storages[alias]
    if uses_s3():
        s3 = cast("S3Storage", backend)
        listing = s3.connection.meta.client.list_objects_v2(Bucket=s3.bucket_name)
        return [item["Key"] for item in listing.get("Contents", [])]
    from pathlib import Path

    root = Path(cast("FileSystemStorage", backend).location)
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".uploads" not in p.parts)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle and lockout counts start at zero in every test. In the PostgreSQL pass the cache is
    the shared Redis: only this run's keys (tests/settings.py gives them a per-run prefix) go."""
    from django.core.cache import cache
    from django.core.cache.backends.redis import RedisCache

    if isinstance(cache, RedisCache):
        client = cache._cache.get_client(write=True)
        for key in client.scan_iter(match=f"{settings.CACHES['default']['KEY_PREFIX']}:*", count=1000):
            client.delete(key)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _clean_storage():
    """Each test starts and ends with empty export storages."""
    _empty_storages()
    yield
    _empty_storages()


def _empty_storages() -> None:
    import shutil
    from pathlib import Path

    from django.core.files.storage import storages

    for alias in settings.EXPORT_STORAGE_ALIASES:
        backend = storages[alias]
        if uses_s3():
            s3 = cast("S3Storage", backend)
            client = s3.connection.meta.client
            for upload in client.list_multipart_uploads(Bucket=s3.bucket_name).get("Uploads", []):
                client.abort_multipart_upload(Bucket=s3.bucket_name, Key=upload["Key"], UploadId=upload["UploadId"])
            for item in client.list_objects_v2(Bucket=s3.bucket_name).get("Contents", []):
                client.delete_object(Bucket=s3.bucket_name, Key=item["Key"])
        else:
            shutil.rmtree(Path(cast("FileSystemStorage", backend).location), ignore_errors=True)


@pytest.fixture
def own_redis(tmp_path):
    """A private redis-server on a free port (the shared one on 6379 is never touched); yields
    (its subprocess.Popen, its URL)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    procs = Procs(tmp_path)
    server = RedisServer(procs).start()
    assert server.proc is not None
    yield server.proc.popen, server.url
    server.proc.signal_group(signal.SIGCONT)  # a test may have left it stopped (SIGSTOP)
    procs.stop_all()
