"""Thin wrappers over the configured django-storages backends: multipart uploads and links.

Each storage alias (settings.STORAGES) is either S3 (storages.backends.s3.S3Storage) or a local
folder (FileSystemStorage). Both expose the same explicit upload steps, start → write_part →
complete | abort, so callers can checkpoint, resume and parallelise on them. No business rules.

Callers use this package's names (`storage.object_delete(...)`), so a test that replaces one
here replaces it for every caller.
"""

from django.core.files.storage import storages  # noqa: F401  # the storage tests read it here

from exports.storage.backends import local_folder as _folder  # noqa: F401  # for the storage tests
from exports.storage.backends import s3_client as _s3_client  # noqa: F401  # for the storage tests
from exports.storage.backends import storage_location, storage_ping
from exports.storage.downloads import DOWNLOAD_SALT, download_token_read, download_url
from exports.storage.listing import abort_uploads_of, list_objects, list_uploads, upload_started
from exports.storage.objects import object_delete, object_exists, object_modified, object_open, object_sha256
from exports.storage.uploads import (
    DATA_FILE,
    KEY_FILE,
    UPLOADS_DIR,
    FilesystemMultipartUpload,
    MultipartUpload,
    PartStream,
    S3MultipartUpload,
    UploadedPart,
    multipart_upload,
)

__all__ = [
    "DATA_FILE",
    "DOWNLOAD_SALT",
    "KEY_FILE",
    "UPLOADS_DIR",
    "FilesystemMultipartUpload",
    "MultipartUpload",
    "PartStream",
    "S3MultipartUpload",
    "UploadedPart",
    "abort_uploads_of",
    "download_token_read",
    "download_url",
    "list_objects",
    "list_uploads",
    "multipart_upload",
    "object_delete",
    "object_exists",
    "object_modified",
    "object_open",
    "object_sha256",
    "storage_location",
    "storage_ping",
    "upload_started",
]
