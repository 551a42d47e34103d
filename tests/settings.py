"""Test settings: environment defaults for the suite, then the real settings module.

Two modes, chosen by the test command (see Makefile):
- default: SQLite (a temp file, so worker threads and the test share it) and the in-memory broker;
- EXPORTSITE_TEST_S3=1: every export storage is S3 served by a real moto server started here
  (ThreadedMotoServer on 127.0.0.1), with DATABASE_URL / DRAMATIQ_BROKER_URL from the caller.
"""

import atexit
import os
import tempfile

_tmp = tempfile.mkdtemp(prefix="exportsite-tests-")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key-with-enough-length-for-hs256")
os.environ.setdefault("EXPORTSITE_VAR_DIR", _tmp)
os.environ.setdefault("LOG_FORMAT", "text")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("EXPORTS_PROGRESS_INTERVAL_SECONDS", "1")
os.environ.setdefault("EXPORTS_API_RATE", "100000/min")  # throttling has its own test
os.environ.setdefault("EXPORTS_LOGIN_RATE", "100000/min")  # the login throttle has its own tests
os.environ.setdefault(
    "EXPORTS_WEBHOOK_ALLOW_PRIVATE", "1"
)  # test receivers listen on 127.0.0.1; the refusal has its own tests

MOTO_ENDPOINT = ""
if os.environ.get("EXPORTSITE_TEST_S3") == "1":
    # moto's documented switch for S3's 5 MiB minimum part size, so multi-part behaviour
    # (checkpoints, resume) can be tested with small files; must be set before moto loads.
    os.environ.setdefault("S3_UPLOAD_PART_MIN_SIZE", "256")
    import boto3
    from moto.server import ThreadedMotoServer

    _moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    _moto.start()
    atexit.register(_moto.stop)
    _host, _port = _moto.get_host_and_port()
    MOTO_ENDPOINT = f"http://{_host}:{_port}"
    os.environ.update(
        {
            "AWS_S3_ENDPOINT_URL": MOTO_ENDPOINT,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_S3_REGION_NAME": "us-east-1",
        }
    )
    _s3 = boto3.client(
        "s3",
        endpoint_url=MOTO_ENDPOINT,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    for _alias in ("exports", "scoring", "vf_scoring", "sfmc"):
        _bucket = f"test-{_alias.replace('_', '-')}"
        _s3.create_bucket(Bucket=_bucket)
        os.environ[f"EXPORTS_STORAGE_{_alias.upper()}_BUCKET"] = _bucket

from exportsite.settings import *  # noqa: E402,F403
from exportsite.settings import CACHES, DATABASES, DRAMATIQ_BROKER  # noqa: E402

# Runs side by side (developers, CI) must not share a test database or broker queues.
_RUN = f"{os.getpid()}"
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not :memory:, so worker threads see the same database as the test.
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(_tmp, "test.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{_RUN}"}
# The PostgreSQL pass shares Redis as Django's cache (DJANGO_CACHE_URL): keys of this run only.
CACHES["default"]["KEY_PREFIX"] = f"exportsite-test-{_RUN}"
if DRAMATIQ_BROKER["BROKER"].endswith("RedisBroker"):
    DRAMATIQ_BROKER["OPTIONS"]["namespace"] = f"exportsite-test-{_RUN}"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
