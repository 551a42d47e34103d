"""The per-user API throttle is one count for the whole service, not one per process: gunicorn in
production mode with two worker processes and the Redis cache, the shipped rate (300/min), one
user's requests alternating between a connection held by each worker. The token comes from
`manage.py mint_tokens` run in the same production environment, as `make load` runs it.
PostgreSQL pass only: it starts processes."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import is_postgres
from tests.factories import CampaignFactory, GroupFactory
from tests.processes import (
    PRODUCTION_REQUIRED,
    PYTHON,
    ROOT,
    Proc,
    Procs,
    database_url,
    free_port,
    gunicorn_argv,
    proc_stat,
    process_env,
    wait_for,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not is_postgres(), reason="starts gunicorn against PostgreSQL (PostgreSQL pass)"),
]

SHIPPED_RATE = 300  # EXPORTS_API_RATE's default, "300/min": the environment below does not set it


def _server_env(redis_url: str, var_dir: Path, port: int) -> dict[str, str]:
    return process_env(
        database_url=database_url(connection.settings_dict),
        broker_url=redis_url,
        var_dir=var_dir,
        settings={
            **PRODUCTION_REQUIRED,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_CACHE_URL": redis_url,
            "EXPORTSITE_BIND": f"127.0.0.1:{port}",
            "EXPORTSITE_WEB_WORKERS": "2",
            "EXPORTSITE_WEB_THREADS": "2",
        },
    )


def _mint(env: dict[str, str], output: Path, *flags: str) -> subprocess.CompletedProcess:
    argv = [PYTHON, "manage.py", "mint_tokens", "--users", "1", "--access-group", "Load Campaign Staff"]
    return subprocess.run(
        [*argv, "--output", str(output), *flags], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def _workers(master: int) -> set[int]:
    return {
        int(entry.name)
        for entry in Path("/proc").glob("[0-9]*")
        if (proc_stat(int(entry.name)) or ("", 0))[1] == master
    }


def _serving_worker(conn: http.client.HTTPConnection, server_port: int, workers: set[int]) -> int | None:
    """The worker process holding the server side of `conn` (after a request, so it is accepted):
    the socket inode from /proc/net/tcp, then the worker with that inode among its descriptors."""
    client_port = conn.sock.getsockname()[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{server_port:04X}") and fields[2].endswith(f":{client_port:04X}"):
            inode = fields[9]
    for pid in workers:
        try:
            if any(os.readlink(fd) == f"socket:[{inode}]" for fd in Path(f"/proc/{pid}/fd").iterdir()):
                return pid
        except OSError:
            continue
    return None


def _connections_on_two_workers(port: int, gunicorn: Proc) -> dict[int, http.client.HTTPConnection]:
    """Keep-alive connections until two are held by different workers (the kernel decides which
    worker accepts a connection); the others are closed."""
    workers = wait_for(
        lambda: len(_workers(gunicorn.pid)) == 2 and _workers(gunicorn.pid), timeout=30, what="2 workers"
    )
    held: dict[int, http.client.HTTPConnection] = {}
    for _ in range(200):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/heartbeat")  # not throttled: costs the user nothing
        conn.getresponse().read()
        worker = _serving_worker(conn, port, workers)
        if worker is not None and worker not in held:
            held[worker] = conn
            if len(held) == 2:
                return held
        else:
            conn.close()
    raise AssertionError(f"200 connections, all accepted by the same worker: {held.keys()}" + gunicorn.tail())


@pytest.fixture
def production_web(transactional_db, own_redis, tmp_path):
    """gunicorn (2 workers) in production mode and one load account's token: (port, gunicorn, env, token)."""
    _, redis_url = own_redis
    CampaignFactory(access_groups=[GroupFactory(name="Load Campaign Staff")])
    port = free_port()
    env = _server_env(redis_url, tmp_path / "var", port)
    tokens = tmp_path / "tokens.json"
    minted = _mint(env, tokens, "--allow-production")
    assert minted.returncode == 0, minted.stderr[-3000:]
    access = json.loads(tokens.read_text())["tokens"][0]["access"]
    assert access not in minted.stdout + minted.stderr
    procs = Procs(tmp_path)
    try:
        gunicorn = procs.start("gunicorn", gunicorn_argv(), env=env)
        wait_for(lambda: _heartbeat_ok(port), timeout=60, what="gunicorn to serve", proc=gunicorn, interval=0.2)
        yield port, gunicorn, env, access
    finally:
        procs.stop_all()


def _export_types(conn: http.client.HTTPConnection, access: str) -> int:
    conn.request("GET", "/export-types", headers={"Authorization": f"Bearer {access}"})
    response = conn.getresponse()
    response.read()
    if response.status == 429:
        assert int(response.getheader("Retry-After", "0")) > 0
    return response.status


def test_one_users_throttle_count_is_shared_by_every_gunicorn_worker(production_web, tmp_path):
    port, gunicorn, env, access = production_web
    # Production settings: no credentials without the explicit flag.
    refused = _mint(env, tmp_path / "refused.json")
    assert refused.returncode != 0 and "--allow-production" in refused.stderr, refused.stderr[-2000:]
    assert not (tmp_path / "refused.json").exists()

    held = _connections_on_two_workers(port, gunicorn)
    workers, connections = list(held), list(held.values())
    # One at a time, alternating between the workers: every request sees every earlier count.
    answers = [_export_types(connections[number % 2], access) for number in range(SHIPPED_RATE + 60)]
    # Still the same connections (none was closed and reopened elsewhere): each worker served half.
    assert [_serving_worker(conn, port, set(workers)) for conn in connections] == workers

    # 300 served, 150 by each worker, then every request refused. Per-process counts would have
    # let each worker serve 300 of these 360.
    assert answers == [200] * SHIPPED_RATE + [429] * 60, {status: answers.count(status) for status in set(answers)}


def test_concurrent_requests_of_one_user_get_exactly_the_rate(production_web):
    port, _, _, access = production_web
    answers: list[int] = []

    def hammer() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        answers.extend(_export_types(conn, access) for _ in range(40))

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 640
    assert answers.count(200) == SHIPPED_RATE, {status: answers.count(status) for status in set(answers)}


def _heartbeat_ok(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/heartbeat")
        return conn.getresponse().status == 200
    except OSError:
        return False
