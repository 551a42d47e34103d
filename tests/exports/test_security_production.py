"""Issue 12's findings tried once more the way they were found: against gunicorn in production mode
(DJANGO_DEBUG=0, two worker processes, PostgreSQL, Redis as the shared cache), with the shipped
defaults (login rate 10/min, admin lockout after 5 failures). PostgreSQL pass only: it starts
processes."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

import jwt
import pytest
import requests
from django.db import connection
from django.test import override_settings

from tests.conftest import is_postgres
from tests.factories import UserFactory
from tests.processes import PRODUCTION_REQUIRED, Procs, free_port

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not is_postgres(), reason="starts gunicorn against PostgreSQL (PostgreSQL pass)"),
]

HOST = "exports.example.com"


def _database_url() -> str:
    db = connection.settings_dict
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{quote(db['USER'] or '', safe='')}@{host}{port}/{quote(db['NAME'], safe='')}"


@pytest.fixture
def production_web(transactional_db, own_redis, tmp_path):
    """gunicorn with two workers in production mode; yields (base URL, the gunicorn Proc)."""
    _, redis_url = own_redis
    port = free_port()
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "TZ")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(
        {
            **PRODUCTION_REQUIRED,
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "exportsite.settings",
            "DJANGO_ALLOWED_HOSTS": HOST,
            "DJANGO_CACHE_URL": redis_url,
            "DATABASE_URL": _database_url(),
            "DRAMATIQ_BROKER_URL": redis_url,
            "EXPORTSITE_VAR_DIR": str(tmp_path / "var"),
            "EXPORTSITE_BIND": f"127.0.0.1:{port}",
            "EXPORTSITE_WEB_WORKERS": "2",
            "EXPORTSITE_WEB_THREADS": "2",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
        }
    )
    procs = Procs(tmp_path)
    gunicorn = procs.start(
        "gunicorn",
        [str(Path(sys.executable).with_name("gunicorn")), "-c", "python:exportsite.gunicorn", "exportsite.wsgi"],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{base}/export-types", headers={"Host": HOST}, timeout=2)
            break
        except requests.RequestException:
            assert gunicorn.alive() and time.monotonic() < deadline, gunicorn.tail()
            time.sleep(0.1)
    try:
        yield base, gunicorn
    finally:
        procs.stop_all()


def _production_password(user, password: str = "pw-123456"):
    """The tests hash with MD5 for speed; the production settings only know the default hashers."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def _post(base: str, path: str, body, **headers):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return requests.post(
        f"{base}{path}",
        data=data,
        headers={"Host": HOST, "Content-Type": "application/json", "X-Forwarded-Proto": "https", **headers},
        timeout=10,
        allow_redirects=False,
    )


def _get(base: str, path: str, **headers):
    return requests.get(
        f"{base}{path}",
        headers={"Host": HOST, "X-Forwarded-Proto": "https", **headers},
        timeout=10,
        allow_redirects=False,
    )


def test_production_mode_closes_the_reported_holes(production_web, campaign, reporter):
    base, gunicorn = production_web
    _production_password(reporter)

    # Finding 2: the admin login locks after five failures, whichever worker answers. (First: API
    # login failures from this address count towards the admin's address lockout too.)
    admin = _production_password(UserFactory(is_staff=True, is_superuser=True))
    login_page = _get(base, "/admin/login/")
    assert login_page.status_code == 200
    # The cookie is Secure (production): sent back by hand, as a browser would over HTTPS.
    csrf = login_page.cookies["csrftoken"]
    answers = []
    for password in ["wrong"] * 5 + ["pw-123456"]:
        answer = requests.post(
            f"{base}/admin/login/?next=/admin/",
            data={"username": admin.username, "password": password, "csrfmiddlewaretoken": csrf},
            headers={
                "Host": HOST,
                "X-Forwarded-Proto": "https",
                "Referer": f"https://{HOST}/admin/login/",
                "Cookie": f"csrftoken={csrf}",
            },
            allow_redirects=False,
            timeout=10,
        )
        answers.append(answer.status_code)
    assert answers == [200, 200, 200, 200, 429, 429], answers

    # Finding 1: a token signed with the webhook secret (every receiver holds it) is refused;
    # the service's own token works.
    now = int(time.time())
    claims = {"token_type": "access", "exp": now + 600, "iat": now, "jti": "forged", "user_id": str(reporter.pk)}
    forged = jwt.encode(claims, PRODUCTION_REQUIRED["EXPORTS_WEBHOOK_SECRET"], algorithm="HS256")
    listing = f"/campaigns/{campaign.pk}/exports"
    assert _get(base, listing, Authorization=f"Bearer {forged}").status_code == 401
    login = _post(base, "/auth/token", {"username": reporter.username, "password": "pw-123456"})
    assert login.status_code == 200, (login.status_code, login.text[:500], gunicorn.tail())
    tokens = login.json()
    assert _get(base, listing, Authorization=f"Bearer {tokens['access']}").status_code == 200

    # Finding 9: the refresh token rotates and works once.
    rotated = _post(base, "/auth/token/refresh", {"refresh": tokens["refresh"]})
    assert rotated.status_code == 200 and rotated.json()["refresh"] != tokens["refresh"]
    assert _post(base, "/auth/token/refresh", {"refresh": tokens["refresh"]}).status_code == 401

    # Finding 2: rotating X-Forwarded-For gives no extra attempts. The shipped 10/min counts
    # across both gunicorn workers (one Redis count); the first login above used one.
    victim = _production_password(UserFactory())
    statuses = [
        _post(
            base, "/auth/token", {"username": victim.username, "password": "wrong"}, **{"X-Forwarded-For": f"1.2.3.{n}"}
        ).status_code
        for n in range(12)
    ]
    assert statuses.count(401) <= 10 and statuses[-1] == 429, statuses
    right = _post(base, "/auth/token", {"username": victim.username, "password": "pw-123456"})
    assert right.status_code == 429 and right.json()["error"]["status"] == 429

    assert gunicorn.alive(), gunicorn.tail()


def test_gunicorn_gzips_json_answers(production_web, campaign, reporter):
    base, _ = production_web
    _production_password(reporter)
    login = _post(base, "/auth/token", {"username": reporter.username, "password": "pw-123456"})
    assert login.status_code == 200 and "Content-Encoding" not in login.headers  # tokens: never
    bearer = f"Bearer {login.json()['access']}"
    packed = _get(base, "/export-types", Authorization=bearer, **{"Accept-Encoding": "gzip"})
    plain = _get(base, "/export-types", Authorization=bearer, **{"Accept-Encoding": "identity"})
    assert packed.status_code == plain.status_code == 200
    assert packed.headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain.headers
    assert packed.json() == plain.json()  # requests unpacks the gzip body
    assert int(packed.headers["Content-Length"]) < len(plain.content) / 3
