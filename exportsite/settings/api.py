"""The REST API: DRF, JSON Web Tokens, the API and login rates, the OpenAPI schema."""

from __future__ import annotations

from datetime import timedelta

from exportsite.environment import env_int, env_str
from exportsite.settings.security import EXPORTSITE_TRUSTED_PROXIES, JWT_SIGNING_KEY

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser with a nesting limit: a too-deep body is a 400, never a RecursionError.
    "DEFAULT_PARSER_CLASSES": ["exports.parsers.DepthLimitedJSONParser"],
    "EXCEPTION_HANDLER": "exports.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["exports.permissions.PerUserThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # DRF's client address for anonymous throttling: REMOTE_ADDR with 0 proxies, else the address
    # the nearest trusted proxy saw (never a client-chosen X-Forwarded-For entry).
    "NUM_PROXIES": EXPORTSITE_TRUSTED_PROXIES,
}
# API requests per user (anonymous: per client address), DRF rate syntax (exports.permissions).
EXPORTS_API_RATE = env_str("EXPORTS_API_RATE", "300/min")
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 10, minimum=1, maximum=24 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 1, minimum=1)),
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
    # A refresh gives a new refresh token and blacklists the one used: a stolen refresh token
    # works once at most, and its theft shows as the owner's next refresh failing.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # Tokens carry a hash of the password: a password change cuts off every token issued before it.
    "CHECK_REVOKE_TOKEN": True,
    "UPDATE_LAST_LOGIN": False,
}
# /auth/token attempts, counted in the cache per username and per client address (both apply).
EXPORTS_LOGIN_RATE = env_str("EXPORTS_LOGIN_RATE", "10/min")
SPECTACULAR_SETTINGS = {
    "TITLE": "exportsite API",
    "DESCRIPTION": (
        "Campaign data exports as downloadable files. Every error has the shape "
        '`{"error": {"status", "message", "payload"}}` (see the `Error` schema). '
        "Authenticate with `POST /auth/token` and send `Authorization: Bearer <access>`."
    ),
    "VERSION": "1.0.0",
    # The schema and the docs page are public; what they describe still needs a token.
    "SERVE_INCLUDE_SCHEMA": False,
    # Offline: Swagger UI's files come from drf-spectacular-sidecar through STATIC_URL, and the
    # online validator badge (a request to swagger.io) is switched off.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "displayOperationId": True, "validatorUrl": None},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "exports.schema.add_plain_django_views",
    ],
    "TAGS": [
        {"name": "auth", "description": "JSON Web Tokens (djangorestframework-simplejwt)."},
        {"name": "exports", "description": "Requesting and reading export jobs."},
        {"name": "downloads", "description": "Files of finished exports in local-folder storage."},
        {"name": "privacy", "description": "CCPA deletion."},
        {"name": "operations", "description": "Health and metrics (no authentication)."},
    ],
}
