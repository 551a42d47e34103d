"""Export storage: each alias is S3 or a local folder; the multipart upload's part size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from exportsite.environment import env_choice, env_int, env_str
from exportsite.settings.base import VAR_DIR

# Each export storage alias is S3 when EXPORTS_STORAGE_<ALIAS>_BUCKET is set, else a local folder.
EXPORT_STORAGE_ALIASES = ("exports", "scoring", "vf_scoring", "sfmc")
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL", "")
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME", "us-east-1")
_MEDIA_DIR = Path(env_str("EXPORTS_LOCAL_DIR", str(VAR_DIR / "files")))


def _export_storage(alias: str) -> dict:
    bucket = env_str(f"EXPORTS_STORAGE_{alias.upper()}_BUCKET", "")
    if bucket:
        options = {
            "bucket_name": bucket,
            "region_name": AWS_S3_REGION_NAME,
            "default_acl": "private",
            "file_overwrite": False,
            "querystring_auth": True,
            "signature_version": "s3v4",
            "addressing_style": env_choice("AWS_S3_ADDRESSING_STYLE", "path", ("path", "virtual", "auto")),
        }
        if AWS_S3_ENDPOINT_URL:
            options["endpoint_url"] = AWS_S3_ENDPOINT_URL
        access_key = env_str("AWS_ACCESS_KEY_ID", "")
        if access_key:
            options["access_key"] = access_key
            options["secret_key"] = env_str("AWS_SECRET_ACCESS_KEY", required=True)
        return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
    return {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(_MEDIA_DIR / alias), "base_url": None},
    }


STORAGES: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(_MEDIA_DIR / "default")},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    **{alias: _export_storage(alias) for alias in EXPORT_STORAGE_ALIASES},
}

# 5 MiB (S3's minimum) keeps the worker's memory lowest; 10,000 parts then allow ~50 GB files.
EXPORTS_PART_SIZE_BYTES = env_int("EXPORTS_PART_SIZE_KB", 5 * 1024, minimum=64, maximum=512 * 1024) * 1024
if (
    EXPORTS_PART_SIZE_BYTES < 5 * 1024 * 1024
    and not AWS_S3_ENDPOINT_URL
    and any("s3" in STORAGES[alias]["BACKEND"] for alias in EXPORT_STORAGE_ALIASES)
):
    raise ImproperlyConfigured(
        "Environment variable EXPORTS_PART_SIZE_KB must be >= 5120 with AWS S3 (its minimum part size)."
    )
