"""Security, issue 12: separate secrets, login protection, token lifetimes and revocation.

Findings 1 (forged tokens), 2 (brute force) and 9 (tokens). The same behaviours are tried once
more against gunicorn in production mode in test_security_production.py.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client, override_settings
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.processes import PRODUCTION_REQUIRED, ROOT

PASSWORD = "pw-123456"


# --- Finding 1: one secret per purpose, required and distinct in production -----------------


def _check(env: dict, tmp_path) -> subprocess.CompletedProcess:
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    full = {
        **keep,
        "DJANGO_SETTINGS_MODULE": "exportsite.settings",
        "EXPORTSITE_VAR_DIR": str(tmp_path),
        "DJANGO_ALLOWED_HOSTS": "exports.example.com",
        **env,
    }
    full = {name: value for name, value in full.items() if value is not None}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60
    )


def test_a_production_environment_with_four_distinct_secrets_starts(tmp_path):
    result = _check(PRODUCTION_REQUIRED, tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "name", ["JWT_SIGNING_KEY", "EXPORTS_WEBHOOK_SECRET", "EXPORTS_DOWNLOAD_SIGNING_KEY", "DJANGO_CACHE_URL"]
)
def test_production_refuses_to_start_without_each_required_variable(name, tmp_path):
    result = _check({**PRODUCTION_REQUIRED, name: None}, tmp_path)
    assert result.returncode != 0
    assert f"Environment variable {name} is required when DJANGO_DEBUG is off." in result.stderr


@pytest.mark.parametrize(
    "name", ["DJANGO_SECRET_KEY", "JWT_SIGNING_KEY", "EXPORTS_WEBHOOK_SECRET", "EXPORTS_DOWNLOAD_SIGNING_KEY"]
)
def test_production_refuses_a_short_secret(name, tmp_path):
    result = _check({**PRODUCTION_REQUIRED, name: "x" * 31}, tmp_path)
    assert result.returncode != 0
    assert f"Environment variable {name} must be at least 32 characters, got 31." in result.stderr


@pytest.mark.parametrize(
    ("name", "same_as"),
    [
        ("JWT_SIGNING_KEY", "DJANGO_SECRET_KEY"),
        ("EXPORTS_WEBHOOK_SECRET", "JWT_SIGNING_KEY"),
        ("EXPORTS_DOWNLOAD_SIGNING_KEY", "EXPORTS_WEBHOOK_SECRET"),
    ],
)
def test_production_refuses_a_secret_reused_for_another_purpose(name, same_as, tmp_path):
    result = _check({**PRODUCTION_REQUIRED, name: PRODUCTION_REQUIRED[same_as]}, tmp_path)
    assert result.returncode != 0
    assert "must differ from" in result.stderr
    assert name in result.stderr and same_as in result.stderr


def test_development_secrets_are_distinct_from_each_other_and_from_the_secret_key():
    values = [
        settings.SECRET_KEY,
        settings.SIMPLE_JWT["SIGNING_KEY"],
        settings.EXPORTS_WEBHOOK_SECRET,
        settings.EXPORTS_DOWNLOAD_SIGNING_KEY,
    ]
    assert len(set(values)) == 4


def _forged_access_token(user, key: str) -> str:
    now = int(time.time())
    claims = {"token_type": "access", "exp": now + 600, "iat": now, "jti": "forged", "user_id": str(user.pk)}
    return jwt.encode(claims, key, algorithm="HS256")


@pytest.mark.django_db
@pytest.mark.parametrize("key_name", ["webhook secret", "secret key", "download key"])
def test_a_token_signed_with_any_other_secret_is_refused(reporter, campaign, key_name):
    key = {
        "webhook secret": settings.EXPORTS_WEBHOOK_SECRET,
        "secret key": settings.SECRET_KEY,
        "download key": settings.EXPORTS_DOWNLOAD_SIGNING_KEY,
    }[key_name]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {_forged_access_token(reporter, key)}")
    assert client.get(f"/campaigns/{campaign.pk}/exports").status_code == 401


# --- Finding 2: brute force ------------------------------------------------------------------


def _login(client: APIClient, username, password: str, **extra):
    return client.post("/auth/token", {"username": username, "password": password}, format="json", **extra)


@pytest.mark.django_db
@override_settings(EXPORTS_LOGIN_RATE="10/min")
def test_rotating_x_forwarded_for_gives_no_extra_login_attempts(reporter):
    client = APIClient()
    statuses = [
        _login(client, reporter.username, "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(10)
    ]
    assert statuses == [401] * 10
    right = _login(client, reporter.username, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert right.status_code == 429
    assert right.json()["error"]["status"] == 429 and int(right["Retry-After"]) > 0


@pytest.mark.django_db
@override_settings(EXPORTS_LOGIN_RATE="10/min")
def test_one_username_is_limited_across_client_addresses(reporter):
    client = APIClient()
    for n in range(10):
        assert _login(client, reporter.username, "wrong", REMOTE_ADDR=f"198.51.100.{n}").status_code == 401
    assert _login(client, reporter.username, PASSWORD, REMOTE_ADDR="198.51.100.200").status_code == 429
    # Another account from a fresh address is not affected.
    other = UserFactory()
    assert _login(client, other.username, PASSWORD, REMOTE_ADDR="198.51.100.201").status_code == 200


@pytest.mark.django_db
@override_settings(EXPORTS_LOGIN_RATE="10/min")
def test_one_address_is_limited_across_usernames():
    client = APIClient()
    for n in range(10):
        assert _login(client, f"nobody{n}", "wrong", REMOTE_ADDR="198.51.100.7").status_code == 401
    user = UserFactory()
    assert _login(client, user.username, PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 429


@pytest.mark.django_db
@override_settings(EXPORTS_LOGIN_RATE="10/min", EXPORTSITE_TRUSTED_PROXIES=1)
def test_behind_one_trusted_proxy_the_address_it_saw_counts(reporter):
    """The proxy appends the address it saw; whatever the client put before it is ignored."""
    client = APIClient()
    for n in range(10):
        forwarded = f"10.9.9.{n}, 192.0.2.10"  # client-chosen entry, then the proxy's
        assert _login(client, f"nobody{n}", "wrong", HTTP_X_FORWARDED_FOR=forwarded).status_code == 401
    assert _login(client, reporter.username, PASSWORD, HTTP_X_FORWARDED_FOR="1.1.1.1, 192.0.2.10").status_code == 429
    # A different real client behind the same proxy still gets in.
    assert _login(client, reporter.username, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.11").status_code == 200


def test_one_setting_gives_the_proxy_count_to_drf_and_the_login_libraries():
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.EXPORTSITE_TRUSTED_PROXIES == 0
    assert settings.AXES_CLIENT_IP_CALLABLE == "exportsite.client_ip.client_address"


def _admin_login(client: Client, username, password: str, address: str):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.mark.django_db
def test_the_admin_login_locks_a_username_after_five_failures():
    """Shipped defaults: EXPORTS_ADMIN_LOGIN_FAILURES=5, per username and per address."""
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    for n in range(4):
        assert _admin_login(client, staff.username, "wrong", f"198.51.100.{n}").status_code == 200  # form again
    assert _admin_login(client, staff.username, "wrong", "198.51.100.4").status_code == 429  # the fifth locks
    locked = _admin_login(client, staff.username, PASSWORD, "198.51.100.50")
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_admin_login_locks_an_address_after_five_failures():
    client = Client()
    for n in range(4):
        assert _admin_login(client, f"nobody{n}", "wrong", "198.51.100.9").status_code == 200
    assert _admin_login(client, "nobody4", "wrong", "198.51.100.9").status_code == 429
    staff = UserFactory(is_staff=True, is_superuser=True)
    assert _admin_login(client, staff.username, PASSWORD, "198.51.100.9").status_code == 429
    # The right password from elsewhere still works: the lockout is not global.
    fine = _admin_login(Client(), staff.username, PASSWORD, "198.51.100.10")
    assert fine.status_code == 302 and fine["Location"] == "/admin/"


@pytest.mark.parametrize("password", ["password123", "qwertyuiop", "1234567890123", "20261202"])
def test_common_and_numeric_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_a_long_uncommon_password_passes():
    validate_password("correct horse battery staple 7")


# --- Finding 9: tokens ----------------------------------------------------------------------


def test_access_tokens_live_ten_minutes_by_default():
    assert settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] == timedelta(minutes=10)


@pytest.mark.django_db
def test_an_issued_access_token_expires_after_ten_minutes(reporter):
    tokens = _login(APIClient(), reporter.username, PASSWORD).json()
    claims = jwt.decode(tokens["access"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 600


@pytest.mark.django_db
def test_a_refresh_token_works_once_and_is_rotated(reporter, campaign):
    client = APIClient()
    first = _login(client, reporter.username, PASSWORD).json()
    rotated = client.post("/auth/token/refresh", {"refresh": first["refresh"]}, format="json")
    assert rotated.status_code == 200
    assert set(rotated.json()) == {"access", "refresh"} and rotated.json()["refresh"] != first["refresh"]
    replay = client.post("/auth/token/refresh", {"refresh": first["refresh"]}, format="json")
    assert replay.status_code == 401
    again = client.post("/auth/token/refresh", {"refresh": rotated.json()["refresh"]}, format="json")
    assert again.status_code == 200


@pytest.mark.django_db
def test_tokens_stop_working_after_a_password_change(reporter, campaign):
    client = APIClient()
    tokens = _login(client, reporter.username, PASSWORD).json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert client.get(f"/campaigns/{campaign.pk}/exports").status_code == 200

    reporter.set_password("a new and much better passphrase 42")
    reporter.save()

    assert client.get(f"/campaigns/{campaign.pk}/exports").status_code == 401
    refreshed = APIClient().post("/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 401


@pytest.mark.django_db
def test_deactivation_cuts_off_access_and_refresh_tokens(reporter, campaign):
    client = APIClient()
    tokens = _login(client, reporter.username, PASSWORD).json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert client.get(f"/campaigns/{campaign.pk}/exports").status_code == 200

    reporter.is_active = False
    reporter.save()

    assert client.get(f"/campaigns/{campaign.pk}/exports").status_code == 401
    refreshed = APIClient().post("/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 401


@pytest.mark.django_db
def test_an_operator_lifts_a_username_lockout_with_axes_reset_username():
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    for n in range(5):
        _admin_login(client, staff.username, "wrong", f"198.51.100.{20 + n}")
    assert _admin_login(client, staff.username, PASSWORD, "198.51.100.40").status_code == 429
    call_command("axes_reset_username", staff.username, stdout=io.StringIO())
    fine = _admin_login(Client(), staff.username, PASSWORD, "198.51.100.41")
    assert fine.status_code == 302 and fine["Location"] == "/admin/"
