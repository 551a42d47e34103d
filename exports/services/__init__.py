"""Every write and state change of export jobs. Interfaces (API, admin, actors, commands) call these."""

from exports.services.downloads import export_download_url, export_file_name
from exports.services.requesting import (
    export_enqueue,
    export_enqueue_pending,
    export_request,
    parameters_digest,
)
from exports.services.running import export_run

__all__ = [
    "export_download_url",
    "export_enqueue",
    "export_enqueue_pending",
    "export_file_name",
    "export_request",
    "export_run",
    "parameters_digest",
]
