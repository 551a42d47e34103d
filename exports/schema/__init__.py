"""OpenAPI description of the API (drf-spectacular): schema-only serializers, the per-operation
`extend_schema` decorators that exports/apis.py puts on its views, the simplejwt views, and a
postprocessing hook for the plain Django views (/heartbeat, /downloads, /metrics) and the
headers every response carries.

Nothing here runs while serving a request: the views serialize with exports/serializers.py,
and these classes only describe what those produce. docs/api.md is the prose contract;
tests/exports/test_openapi.py checks the two agree by fuzzing the live API (schemathesis).
"""

from exports.schema.operations import (
    ccpa_delete,
    export_create,
    export_list,
    export_retrieve,
    export_types_list,
)
from exports.schema.postprocessing import add_plain_django_views

__all__ = [
    "add_plain_django_views",
    "ccpa_delete",
    "export_create",
    "export_list",
    "export_retrieve",
    "export_types_list",
]
