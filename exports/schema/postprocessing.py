"""Postprocessing hook: the plain Django views (/heartbeat, /downloads, /metrics) and the
headers every response carries."""

from __future__ import annotations

from exports.schema.bodies import REQUEST_ID_PATTERN

# --- Postprocessing: plain Django views and the headers of every response -------------------

_HEALTH_SCHEMA = {
    "type": "object",
    "description": "`status` is `fail` when any check failed; `failed` names those checks.",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "fail"]},
        "failed": {"type": "array", "items": {"type": "string", "enum": ["database", "broker", "storage"]}},
        "checks": {
            "type": "object",
            "properties": {
                name: {"$ref": "#/components/schemas/HealthCheck"} for name in ("database", "broker", "storage")
            },
            "required": ["database", "broker", "storage"],
        },
    },
    "required": ["status", "failed", "checks"],
}
_HEALTH_CHECK_SCHEMA = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "fail"]},
        "ms": {"type": "number", "description": "How long the check took (or has been waiting)."},
    },
    "required": ["status", "ms"],
}


def _error_response(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _plain_paths() -> dict:
    health = {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}
    return {
        "/heartbeat": {
            "get": {
                "operationId": "heartbeat",
                "summary": "Health: database, broker and storage",
                "description": (
                    "Runs the three checks in parallel, each bounded by about 3 s, and names the ones "
                    "that failed. Only ok/fail per check: why a check failed goes to the logs."
                ),
                "tags": ["operations"],
                "security": [],
                "responses": {
                    "200": {"description": "Every check passed.", "content": health},
                    "503": {"description": "At least one check failed (the same report).", "content": health},
                },
            }
        },
        "/downloads/{token}": {
            "get": {
                "operationId": "download",
                "summary": "Download a file from local-folder storage",
                "description": "The `path` of a FINISHED export, when its storage is a local folder. "
                "Holding the signed, expiring link is the permission; no token header is needed.",
                "tags": ["downloads"],
                "security": [],
                "parameters": [
                    {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "The file, as an attachment (`Cache-Control: private, no-store`).",
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "404": _error_response("Invalid link, or the file no longer exists."),
                    "410": _error_response("The link has expired: read the export again for a fresh one."),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (text exposition format)",
                "description": "Open unless `EXPORTS_METRICS_TOKEN` (bearer token) or "
                "`EXPORTS_METRICS_ALLOWED_NETWORKS` (client address allow-list) is set.",
                "tags": ["operations"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "HTTP, process and export-job metrics of the answering process.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "401": _error_response("A token is configured and the request has none, or a wrong one."),
                    "403": _error_response("An allow-list is configured and the client address is not in it."),
                },
            }
        },
    }


_REQUEST_ID_PARAMETER = {
    "name": "X-Request-ID",
    "in": "header",
    "required": False,
    "description": "Correlation id to keep (1–100 of `A–Z a–z 0–9 . _ : -`); otherwise one is generated.",
    "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN},
}
_REQUEST_ID_HEADER = {
    "description": "The correlation id of this request (the client's, when valid).",
    "schema": {"type": "string"},
    "required": True,
}


def add_plain_django_views(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: document the non-DRF views and the X-Request-ID,
    WWW-Authenticate and Retry-After headers; the export request body refuses unknown keys."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Health"] = _HEALTH_SCHEMA
    schemas["HealthCheck"] = _HEALTH_CHECK_SCHEMA
    if "ExportRequest" in schemas:
        schemas["ExportRequest"]["additionalProperties"] = False
    result.setdefault("paths", {}).update(_plain_paths())
    for operations in result["paths"].values():
        for operation in operations.values():
            operation.setdefault("parameters", []).append(dict(_REQUEST_ID_PARAMETER))
            for status, response in operation.get("responses", {}).items():
                headers = response.setdefault("headers", {})
                headers["X-Request-ID"] = dict(_REQUEST_ID_HEADER)
                if status == "401":
                    headers["WWW-Authenticate"] = {"schema": {"type": "string"}, "required": True}
                if status == "429":
                    headers["Retry-After"] = {"schema": {"type": "string"}, "description": "Seconds to wait."}
    return result
