"""Short-lived download links: presigned for S3, a signed Django URL for local folders."""

from __future__ import annotations

from django.core import signing
from django.core.files.storage import storages
from django.urls import reverse

from exports.storage.backends import is_s3, s3_client
from exportsite.conf import export_settings

DOWNLOAD_SALT = "exports.download"


def download_url(alias: str, key: str, *, filename: str, ttl_seconds: int, base_url: str = "") -> str:
    """A short-lived link: presigned for S3, a signed Django URL for local folders."""
    storage = storages[alias]
    if is_s3(storage):
        return s3_client(storage).generate_presigned_url(
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
