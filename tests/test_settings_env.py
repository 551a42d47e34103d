"""Settings come from the environment and a wrong value stops start-up naming the variable."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from exportsite.environment import env_bool, env_int, env_int_map, env_list, env_str
from exportsite.settings.databases import cache_from_url, database_from_url
from exportsite.settings.workers import broker_from_url
from tests.processes import PRODUCTION_REQUIRED


def test_readers_name_the_variable(monkeypatch):
    monkeypatch.setenv("X_INT", "twelve")
    with pytest.raises(ImproperlyConfigured, match="X_INT must be an integer"):
        env_int("X_INT", 1)
    monkeypatch.setenv("X_INT", "2")
    with pytest.raises(ImproperlyConfigured, match="X_INT must be >= 5"):
        env_int("X_INT", 10, minimum=5)
    monkeypatch.setenv("X_INT", "70000")
    with pytest.raises(ImproperlyConfigured, match="X_INT must be <= 65535, got 70000"):
        env_int("X_INT", 10, maximum=65535)
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_BOOL must be a boolean"):
        env_bool("X_BOOL")
    monkeypatch.setenv("X_MAP", "entries=3,scores")
    with pytest.raises(ImproperlyConfigured, match="X_MAP must look like 'key=number,...'"):
        env_int_map("X_MAP")


def test_readers_keep_the_documented_value_syntax(monkeypatch):
    """docs/operations.md, "Value syntax": django-environ underneath, the same meanings."""
    monkeypatch.delenv("X_UNSET", raising=False)
    for raw, expected in [("1", True), ("Yes", True), (" on ", True), ("0", False), ("off", False), ("", False)]:
        monkeypatch.setenv("X_BOOL", raw)
        assert env_bool("X_BOOL", True) is expected
    assert env_bool("X_UNSET", True) is True
    monkeypatch.setenv("X_INT", " ")
    assert env_int("X_INT", 7) == 7
    monkeypatch.setenv("X_STR", "")
    assert env_str("X_STR", "default") == "default"
    monkeypatch.setenv("X_LIST", " a, ,b ,")
    assert env_list("X_LIST") == ["a", "b"]
    assert env_list("X_UNSET", ["x"]) == ["x"]
    monkeypatch.setenv("X_MAP", " entries=3, ,scores = 4")
    assert env_int_map("X_MAP") == {"entries": 3, "scores": 4}
    # A value starting with "$" is that value (a generated secret may), not another variable's name.
    monkeypatch.setenv("X_SECRET", "$2b$not-a-variable-name")
    assert env_str("X_SECRET") == "$2b$not-a-variable-name"


def test_urls_are_parsed(tmp_path):
    postgres = database_from_url("DATABASE_URL", "postgres://u:p%40ss@db.example:6543/exp?sslmode=require")
    assert (postgres["USER"], postgres["PASSWORD"], postgres["HOST"], postgres["PORT"], postgres["NAME"]) == (
        "u",
        "p@ss",
        "db.example",
        "6543",
        "exp",
    )
    assert postgres["OPTIONS"] == {"sslmode": "require"}
    assert broker_from_url("B", "redis://127.0.0.1:6379/0")[0].endswith("RedisBroker")
    assert broker_from_url("B", "amqp://guest:guest@127.0.0.1:5672/")[0].endswith("RabbitmqBroker")
    assert broker_from_url("B", "")[0].endswith("StubBroker")
    with pytest.raises(ImproperlyConfigured, match="B must be a redis:// or amqp:// URL"):
        broker_from_url("B", "kafka://x")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL has an unsupported scheme"):
        database_from_url("DATABASE_URL", "mysql://x/y")


def test_database_urls_get_exportsite_defaults(tmp_path):
    postgres = database_from_url("DATABASE_URL", "postgresql://u:pa+ss@db.example?conn_max_age=5&test_name=t")
    assert postgres == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "exportsite",
        "USER": "u",
        "PASSWORD": "pa+ss",
        "HOST": "db.example",
        "PORT": "",
        "CONN_MAX_AGE": 5,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {},
        "TEST": {"NAME": "t"},
    }
    assert database_from_url("DATABASE_URL", "pgsql://db.example/exp")["CONN_MAX_AGE"] == 60
    path = tmp_path / "a+b folder" / "exportsite.sqlite3"
    sqlite = database_from_url("DATABASE_URL", f"sqlite:///{path}")
    assert sqlite["ENGINE"] == "django.db.backends.sqlite3"
    assert sqlite["NAME"] == str(path)
    assert sqlite["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert path.parent.is_dir()  # made, so the first migrate can create the file
    assert database_from_url("DATABASE_URL", "sqlite://")["NAME"] == ":memory:"


def test_cache_urls_are_parsed():
    assert cache_from_url("DJANGO_CACHE_URL", "") == {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    assert cache_from_url("DJANGO_CACHE_URL", "redis://:pw@127.0.0.1:6379/14") == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://:pw@127.0.0.1:6379/14",
    }
    assert cache_from_url("DJANGO_CACHE_URL", "rediss://cache.example:6380/0")["LOCATION"] == (
        "rediss://cache.example:6380/0"
    )
    with pytest.raises(ImproperlyConfigured, match="DJANGO_CACHE_URL must be a redis:// URL"):
        cache_from_url("DJANGO_CACHE_URL", "memcache://127.0.0.1:11211")


def test_the_idle_poll_reaches_the_dramatiq_program(tmp_path):
    """`manage.py rundramatiq` execs `dramatiq`, which reads its idle timeout from the environment
    it inherits; settings export EXPORTS_WORKER_IDLE_POLL_MS there."""
    script = (
        "import os, subprocess, sys, django; django.setup(); "
        "print(subprocess.run([sys.executable, '-c', 'import dramatiq.worker as w; print(w.WORKER_TIMEOUT)'], "
        "capture_output=True, text=True, check=True).stdout.strip())"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "exportsite.settings",
        "DJANGO_DEBUG": "1",
        "EXPORTSITE_VAR_DIR": str(tmp_path),
        "EXPORTS_WORKER_IDLE_POLL_MS": "150",
    }
    env.pop("dramatiq_worker_timeout", None)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "150"


PRODUCTION = {**PRODUCTION_REQUIRED, "DJANGO_ALLOWED_HOSTS": "exports.example.com"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY is required"),
        ({**PRODUCTION, "DJANGO_ALLOWED_HOSTS": ""}, "DJANGO_ALLOWED_HOSTS is required when DJANGO_DEBUG is off"),
        ({**PRODUCTION, "DJANGO_CACHE_URL": ""}, "DJANGO_CACHE_URL is required when DJANGO_DEBUG is off"),
        ({"DJANGO_DEBUG": "perhaps"}, "DJANGO_DEBUG must be a boolean"),
        ({"EXPORTS_PART_SIZE_KB": "1"}, "EXPORTS_PART_SIZE_KB must be >= 64"),
        ({"EXPORTS_PAGE_SIZE": "many"}, "EXPORTS_PAGE_SIZE must be an integer, got 'many'"),
        (
            {"EXPORTS_PART_SIZE_KB": "1024", "EXPORTS_STORAGE_EXPORTS_BUCKET": "b", "AWS_S3_ENDPOINT_URL": ""},
            "EXPORTS_PART_SIZE_KB must be >= 5120 with AWS S3",
        ),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL has an unsupported scheme 'mysql'"),
        ({"DATABASE_REPLICA_URL": "sqlite:///replica.db"}, "DATABASE_REPLICA_URL must be a postgres:// URL"),
        ({"EXPORTS_REPLICA_WAIT_SECONDS": "-1"}, "EXPORTS_REPLICA_WAIT_SECONDS must be >= 0"),
        ({"DJANGO_CACHE_URL": "memcache://x"}, "DJANGO_CACHE_URL must be a redis:// URL"),
        ({"DRAMATIQ_BROKER_URL": "ftp://nope"}, "DRAMATIQ_BROKER_URL must be a redis:// or amqp:// URL"),
        ({"EXPORTS_WEBHOOK_PROXY": "socks5://proxy:1080"}, "EXPORTS_WEBHOOK_PROXY must look like http://host:port"),
        ({"EXPORTS_METRICS_ALLOWED_NETWORKS": "10.0.0.0/33"}, "EXPORTS_METRICS_ALLOWED_NETWORKS"),
        ({"EXPORTS_METRICS_TOKEN": "short"}, "EXPORTS_METRICS_TOKEN must be at least 32 characters"),
        ({"LOG_LEVEL": "TRACE"}, "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR"),
    ],
)
def test_bad_environment_stops_manage_py_with_a_message(env, message, tmp_path):
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "exportsite.settings",
        "DJANGO_DEBUG": "1",
        "EXPORTSITE_VAR_DIR": str(tmp_path),
        **env,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], env=full_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert message in result.stderr
