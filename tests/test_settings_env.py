"""Settings come from the environment and a wrong value stops start-up naming the variable."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from exportsite.env import broker_from_url, database_from_url, env_bool, env_int


def test_readers_name_the_variable(monkeypatch):
    monkeypatch.setenv("X_INT", "twelve")
    with pytest.raises(ImproperlyConfigured, match="X_INT must be an integer"):
        env_int("X_INT", 1)
    monkeypatch.setenv("X_INT", "2")
    with pytest.raises(ImproperlyConfigured, match="X_INT must be >= 5"):
        env_int("X_INT", 10, minimum=5)
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_BOOL must be a boolean"):
        env_bool("X_BOOL")


def test_urls_are_parsed():
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


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY is required"),
        ({"EXPORTS_PART_SIZE_KB": "1"}, "EXPORTS_PART_SIZE_KB must be >= 64"),
        (
            {"EXPORTS_PART_SIZE_KB": "1024", "EXPORTS_STORAGE_EXPORTS_BUCKET": "b", "AWS_S3_ENDPOINT_URL": ""},
            "EXPORTS_PART_SIZE_KB must be >= 5120 with AWS S3",
        ),
        ({"DRAMATIQ_BROKER_URL": "ftp://nope"}, "DRAMATIQ_BROKER_URL must be a redis:// or amqp:// URL"),
        ({"EXPORTS_WEBHOOK_PROXY": "socks5://proxy:1080"}, "EXPORTS_WEBHOOK_PROXY must look like http://host:port"),
        ({"EXPORTS_METRICS_ALLOWED_NETWORKS": "10.0.0.0/33"}, "EXPORTS_METRICS_ALLOWED_NETWORKS"),
        ({"EXPORTS_METRICS_TOKEN": "short"}, "EXPORTS_METRICS_TOKEN must be at least 32 characters"),
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
