"""exportsite settings, read from the environment and validated at start-up.

Every variable is listed in docs/operations.md. App code reads exportsite-specific values
through `exportsite.conf.export_settings()`, never through os.environ.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from exportsite.env import (
    broker_from_url,
    database_from_url,
    env_bool,
    env_choice,
    env_int,
    env_int_map,
    env_list,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("EXPORTSITE_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "insecure-dev-key-change-me-for-anything-but-local-demos" if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("Environment variable DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off.")

# --- Secrets: one per purpose, so a webhook receiver (who holds the webhook secret) cannot forge
# a JWT or a download link. Required in production, at least 32 characters, all different.
SECRET_MIN_LENGTH = 32


def _secret(name: str, purpose: str) -> str:
    value = env_str(name, "")
    if value:
        return value
    if DEBUG:
        # Development only: distinct values derived from the dev SECRET_KEY, never equal to it.
        return hmac.new(SECRET_KEY.encode(), purpose.encode(), hashlib.sha256).hexdigest()
    raise ImproperlyConfigured(f"Environment variable {name} is required when DJANGO_DEBUG is off.")


JWT_SIGNING_KEY = _secret("JWT_SIGNING_KEY", "jwt")
EXPORTS_WEBHOOK_SECRET = _secret("EXPORTS_WEBHOOK_SECRET", "webhook")
EXPORTS_DOWNLOAD_SIGNING_KEY = _secret("EXPORTS_DOWNLOAD_SIGNING_KEY", "download")
if not DEBUG:
    _SECRETS = {
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "JWT_SIGNING_KEY": JWT_SIGNING_KEY,
        "EXPORTS_WEBHOOK_SECRET": EXPORTS_WEBHOOK_SECRET,
        "EXPORTS_DOWNLOAD_SIGNING_KEY": EXPORTS_DOWNLOAD_SIGNING_KEY,
    }
    for _name, _value in _SECRETS.items():
        if len(_value) < SECRET_MIN_LENGTH:
            raise ImproperlyConfigured(
                f"Environment variable {_name} must be at least {SECRET_MIN_LENGTH} characters, got {len(_value)}."
            )
        for _other, _other_value in _SECRETS.items():
            if _other != _name and _other_value == _value:
                raise ImproperlyConfigured(f"Environment variable {_name} must differ from {_other}.")

# Reverse proxies in front of the web processes that append to X-Forwarded-For. 0: the client is
# REMOTE_ADDR and X-Forwarded-For is ignored (it is whatever the client sent). DRF's throttles,
# the login throttle and django-axes all take the client address from exportsite.client_ip.
EXPORTSITE_TRUSTED_PROXIES = env_int("EXPORTSITE_TRUSTED_PROXIES", 0, minimum=0, maximum=10)

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Environment variable DJANGO_ALLOWED_HOSTS is required when DJANGO_DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_dramatiq",
    "campaigns",
    "exports",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "exportsite.middleware.CorrelationIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes asks: it turns a locked-out admin login into its lockout answer.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it refuses a locked-out admin login before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "exportsite.urls"
WSGI_APPLICATION = "exportsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES: dict[str, dict[str, Any]] = {
    "default": database_from_url("DATABASE_URL", env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'exportsite.sqlite3'}"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# --- Security when DEBUG is off -------------------------------------------------------------
# Django's defaults already send X-Frame-Options: DENY, nosniff, Referrer-Policy: same-origin
# and Cross-Origin-Opener-Policy: same-origin; the ones below are stated for the deploy review.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # HSTS is opt-in: once a browser has seen it, plain HTTP stays refused for max-age seconds.
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
    # Usually the TLS proxy redirects; opt in when it does not. Probes and scrapers that call
    # the service over plain HTTP inside the network keep working.
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
    SECURE_REDIRECT_EXEMPT = [r"^heartbeat$", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Request bodies over this many bytes get 413 (exportsite.middleware); no route takes uploads.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("EXPORTSITE_MAX_BODY_BYTES", 2_621_440, minimum=1024, maximum=100 * 1024 * 1024)

# --- REST API -------------------------------------------------------------------------------
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

# --- Cache (DRF throttling counts): per process by default; share it through Redis in production.
_CACHE_URL = env_str("DJANGO_CACHE_URL", "")
if _CACHE_URL and not _CACHE_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured("Environment variable DJANGO_CACHE_URL must be a redis:// URL.")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _CACHE_URL}
    if _CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
if not DEBUG and not _CACHE_URL:
    # Throttles and login lockouts counted per process would let an attacker spread guesses
    # over the processes: production shares one count.
    raise ImproperlyConfigured("Environment variable DJANGO_CACHE_URL is required when DJANGO_DEBUG is off.")

# --- Admin login lockout (django-axes), counted in the shared cache ---------------------------
AXES_ENABLED = env_bool("EXPORTS_ADMIN_LOCKOUT", True)
AXES_ONLY_ADMIN_SITE = True  # /auth/token has its own throttle (exports.auth)
AXES_HANDLER = "exportsite.axes_handler.SharedCacheAxesHandler"
AXES_CACHE = "default"
AXES_FAILURE_LIMIT = env_int("EXPORTS_ADMIN_LOGIN_FAILURES", 5, minimum=1, maximum=100)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("EXPORTS_ADMIN_LOCKOUT_MINUTES", 15, minimum=1))
# Locked per username and, separately, per client address: rotating either alone does not help.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "exportsite.client_ip.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# The cache handler keeps no database records, so the axes admin pages would be empty (and its
# edit views fail): lockouts are read and lifted with `manage.py axes_reset*` instead.
AXES_ENABLE_ADMIN = False
# A per-process cache is fine for the zero-setup demo (one process); axes warns about it.
SILENCED_SYSTEM_CHECKS = [] if _CACHE_URL else ["axes.W001"]

# --- Broker (Dramatiq) ----------------------------------------------------------------------
DRAMATIQ_BROKER_URL = env_str("DRAMATIQ_BROKER_URL", "")
# An idle Dramatiq consumer looks at its Redis queue at least this often (ms). A new job does not
# wait for it: enqueues wake the consumers of their queue (exportsite/broker.py). The poll is the
# fallback for a lost wake-up, and how often delayed messages (retries) and a stopping worker are
# noticed. Every queue (and its delay queue) has its own consumer thread, 34 per worker process,
# ~1.3 ms of CPU per poll. Dramatiq reads it from this variable when imported, so it is exported
# here, before `manage.py rundramatiq` execs the `dramatiq` program.
EXPORTS_WORKER_IDLE_POLL_MS = env_int("EXPORTS_WORKER_IDLE_POLL_MS", 1000, minimum=10, maximum=10_000)
os.environ["dramatiq_worker_timeout"] = str(EXPORTS_WORKER_IDLE_POLL_MS)
_broker_class, _broker_options = broker_from_url("DRAMATIQ_BROKER_URL", DRAMATIQ_BROKER_URL)
DRAMATIQ_BROKER: dict[str, Any] = {
    "BROKER": _broker_class,
    "OPTIONS": _broker_options,
    "MIDDLEWARE": [
        "dramatiq.middleware.AgeLimit",
        "dramatiq.middleware.TimeLimit",
        "dramatiq.middleware.Callbacks",
        "dramatiq.middleware.Retries",
        "django_dramatiq.middleware.DbConnectionsMiddleware",
        "exports.worker_middleware.FlatMemory",
        "exports.worker_middleware.EnqueuePendingOnWorkerBoot",
        "exports.worker_middleware.MaintenanceTicker",
    ],
}
# Worker metrics (docs/operations.md, "Metrics"): with a port, every `rundramatiq` serves the
# Dramatiq and export metrics of all its processes there. Prometheus' multiprocess mode is
# needed for that, and must be on before any metric exists, so its folder comes from the
# environment of the worker processes (never set it for the web processes).
EXPORTS_WORKER_METRICS_PORT = env_int("EXPORTS_WORKER_METRICS_PORT", 0, minimum=0, maximum=65535)
EXPORTS_WORKER_METRICS_HOST = env_str("EXPORTS_WORKER_METRICS_HOST", "0.0.0.0")
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", "")
if EXPORTS_WORKER_METRICS_PORT:
    if not PROMETHEUS_MULTIPROC_DIR:
        raise ImproperlyConfigured(
            "Environment variable PROMETHEUS_MULTIPROC_DIR is required when EXPORTS_WORKER_METRICS_PORT is set."
        )
    if not Path(PROMETHEUS_MULTIPROC_DIR).is_dir():
        raise ImproperlyConfigured(
            "Environment variable PROMETHEUS_MULTIPROC_DIR must name an existing folder, "
            f"got {PROMETHEUS_MULTIPROC_DIR!r}."
        )
    DRAMATIQ_BROKER["MIDDLEWARE"].append("exports.metrics.WorkerMetrics")
DRAMATIQ_AUTODISCOVER_MODULES = ["actors"]
# With no broker URL the web process runs the worker itself (zero-setup mode: `manage.py serve`,
# or gunicorn with exportsite/gunicorn.py); set false for web processes that must not.
EXPORTS_INPROCESS_WORKER = env_bool("EXPORTS_INPROCESS_WORKER", not DRAMATIQ_BROKER_URL)
EXPORTS_INPROCESS_WORKER_THREADS = env_int("EXPORTS_INPROCESS_WORKER_THREADS", 2, minimum=1, maximum=32)

# --- Storage --------------------------------------------------------------------------------
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

# --- Export behaviour -----------------------------------------------------------------------
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
# PostgreSQL only: let the database format rows and stream them with COPY (see copy_path.py).
EXPORTS_COPY_FAST_PATH = env_bool("EXPORTS_COPY_FAST_PATH", True)
# Fast path: COPY batches read at once, each on its own database connection (one CPU core of the
# database each). Every running export then holds 1 + this many connections.
EXPORTS_COPY_READERS = env_int("EXPORTS_COPY_READERS", 2, minimum=1, maximum=8)
EXPORTS_PAGE_SIZE = env_int("EXPORTS_PAGE_SIZE", 5000, minimum=10, maximum=100_000)
EXPORTS_DOWNLOAD_URL_TTL_SECONDS = env_int("EXPORTS_DOWNLOAD_URL_TTL_SECONDS", 900, minimum=10)
EXPORTS_DEFAULT_TIME_LIMIT_SECONDS = env_int("EXPORTS_TIME_LIMIT_SECONDS", 3600, minimum=5)
EXPORTS_PROGRESS_INTERVAL_SECONDS = env_int("EXPORTS_PROGRESS_INTERVAL_SECONDS", 2, minimum=1)
EXPORTS_PUBLIC_BASE_URL = env_str("EXPORTS_PUBLIC_BASE_URL", "")
# Reliability: retries, stuck-job detection, periodic maintenance, retention.
EXPORTS_MAX_ATTEMPTS = env_int("EXPORTS_MAX_ATTEMPTS", 3, minimum=1, maximum=20)
EXPORTS_RETRY_BACKOFF_SECONDS = env_int("EXPORTS_RETRY_BACKOFF_SECONDS", 10, minimum=0)
EXPORTS_STALE_AFTER_SECONDS = env_int("EXPORTS_STALE_AFTER_SECONDS", 120, minimum=2)
EXPORTS_REENQUEUE_AFTER_SECONDS = env_int("EXPORTS_REENQUEUE_AFTER_SECONDS", 60, minimum=1)
EXPORTS_MAINTENANCE_INTERVAL_SECONDS = env_int("EXPORTS_MAINTENANCE_INTERVAL_SECONDS", 30, minimum=1)
EXPORTS_RETENTION_DAYS = env_int("EXPORTS_RETENTION_DAYS", 30, minimum=1)
EXPORTS_RETENTION_DAYS_BY_TYPE = env_int_map("EXPORTS_RETENTION_DAYS_BY_TYPE")
EXPORTS_ORPHAN_MIN_AGE_SECONDS = env_int("EXPORTS_ORPHAN_MIN_AGE_SECONDS", 3600, minimum=0)
# Quotas and notifications.
EXPORTS_MAX_ACTIVE_PER_USER = env_int("EXPORTS_MAX_ACTIVE_PER_USER", 25, minimum=0)
EXPORTS_API_RATE = env_str("EXPORTS_API_RATE", "300/min")
# Webhook signatures carry their time; receivers should refuse older than this (documented).
EXPORTS_WEBHOOK_TOLERANCE_SECONDS = 300
# Optional egress proxy for webhooks (http://host:port): then the proxy, not the worker, connects.
EXPORTS_WEBHOOK_PROXY = env_str("EXPORTS_WEBHOOK_PROXY", "")
if EXPORTS_WEBHOOK_PROXY:
    _proxy = urlsplit(EXPORTS_WEBHOOK_PROXY)
    if _proxy.scheme != "http" or not _proxy.hostname or _proxy.path not in ("", "/"):
        raise ImproperlyConfigured(
            "Environment variable EXPORTS_WEBHOOK_PROXY must look like http://host:port, "
            f"got {EXPORTS_WEBHOOK_PROXY!r}."
        )
# Webhooks go to public addresses only, unless this is on: otherwise anyone allowed to request an
# export could make the worker POST into the service's own network (SSRF).
EXPORTS_WEBHOOK_ALLOW_PRIVATE = env_bool("EXPORTS_WEBHOOK_ALLOW_PRIVATE", False)
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "exportsite@localhost")
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25, minimum=1, maximum=65535)

# /metrics: open by default (scraped inside the network); a bearer token and/or an address
# allow-list (CIDRs) lock it down. Database-backed gauges are cached this many seconds.
EXPORTS_METRICS_TOKEN = env_str("EXPORTS_METRICS_TOKEN", "")
if EXPORTS_METRICS_TOKEN and len(EXPORTS_METRICS_TOKEN) < SECRET_MIN_LENGTH:
    raise ImproperlyConfigured(
        f"Environment variable EXPORTS_METRICS_TOKEN must be at least {SECRET_MIN_LENGTH} characters."
    )
try:
    EXPORTS_METRICS_ALLOWED_NETWORKS = [
        ipaddress.ip_network(n, strict=False) for n in env_list("EXPORTS_METRICS_ALLOWED_NETWORKS")
    ]
except ValueError as _bad:
    raise ImproperlyConfigured(f"Environment variable EXPORTS_METRICS_ALLOWED_NETWORKS: {_bad}") from None
EXPORTS_METRICS_CACHE_SECONDS = env_int("EXPORTS_METRICS_CACHE_SECONDS", 5, minimum=0, maximum=300)

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
LOG_FORMAT = env_choice("LOG_FORMAT", "json", ("json", "text"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"correlation": {"()": "exportsite.logging.CorrelationIdFilter"}},
    "formatters": {
        "json": {"()": "exportsite.logging.JsonLineFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["correlation"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "dramatiq": {"level": "WARNING"},
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "werkzeug": {"level": "WARNING"},
        # Request lines of `manage.py serve` and Django's request errors go through our handler,
        # whose filter redacts /downloads/ tokens (Django's own handlers would print them).
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console"], "propagate": False},
    },
}
