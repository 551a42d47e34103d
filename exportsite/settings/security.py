"""Security: one secret per purpose, hosts and proxies, HTTPS headers, the body limit, the admin
login lockout and access to /metrics (docs/operations.md, "Security")."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from exportsite.environment import env_bool, env_int, env_list, env_str
from exportsite.settings.base import DEBUG, SECRET_KEY

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

# --- /metrics: open by default (scraped inside the network); a bearer token and/or an address
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
