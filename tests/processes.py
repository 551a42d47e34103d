"""The processes of the fault tests and the benchmark: each in its own session (so its forked
children can be signalled as a group), output captured to files, stopped group-wide. Private
Redis, moto S3, PostgreSQL and RabbitMQ servers on free ports (stopping one never touches the machine's
shared services), Dramatiq workers, and the environments they are started with.

Imported by bench/run.py before Django is set up: nothing here may import Django or the apps."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import cast
from urllib.parse import quote

import boto3
import pika
import pika.exceptions
import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
REDIS_NAMESPACE = "dramatiq"  # what exportsite.settings gives a RedisBroker (workers use it)
S3_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
# Variables of this process a subprocess keeps; everything else it gets is named by the caller.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "TZ")
# Settings a server under test must not take from the test run's own environment.
APP_PREFIXES = ("EXPORTS_", "DJANGO_", "AWS_")

# What a process started with DJANGO_DEBUG=0 must be given (exportsite/settings/ refuses to start
# without them): four distinct secrets of 32+ characters and the shared cache. Test values only.
PRODUCTION_REQUIRED = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "tests-django-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "JWT_SIGNING_KEY": "tests-jwt-signing-key-0123456789-abcdefghijklmnop",
    "EXPORTS_WEBHOOK_SECRET": "tests-webhook-secret-0123456789-abcdefghijklmnop",
    "EXPORTS_DOWNLOAD_SIGNING_KEY": "tests-download-signing-key-0123456789-abcdefghij",
    "DJANGO_CACHE_URL": "redis://127.0.0.1:6379/14",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgid) of a process, None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1]), int(fields[2])


def group_alive(pgid: int) -> bool:
    """True while any non-zombie process is left in the process group (orphaned workers are
    reparented to a PID 1 that may never reap them, so zombies do not count)."""
    for entry in Path("/proc").glob("[0-9]*"):
        stat = proc_stat(int(entry.name))
        if stat and stat[0] != "Z" and stat[2] == pgid:
            return True
    return False


class Proc:
    """A subprocess in its own session (so its forked children can be signalled as a group),
    with stdout and stderr captured to files."""

    def __init__(self, name: str, argv: list[str], *, env: dict, log_dir: Path):
        self.name = name
        self.out_path = log_dir / f"{name}.out"
        self.err_path = log_dir / f"{name}.err"
        self._out = self.out_path.open("wb")
        self._err = self.err_path.open("wb")
        self.popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
            start_new_session=True,
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.popen.poll()
            if not group_alive(self.pid):
                self.popen.poll()
                return True
            time.sleep(0.02)
        return False

    def kill(self) -> None:
        """SIGKILL to the whole group, and wait until every process in it is gone."""
        self.signal_group(signal.SIGKILL)
        assert self.wait_gone(10), f"{self.name} survived SIGKILL"
        self._close_logs()

    def stop(self, timeout: float = 5) -> None:
        """SIGTERM to the group, SIGKILL if it is not gone within `timeout`."""
        if group_alive(self.pid):
            self.signal_group(signal.SIGTERM)
            if not self.wait_gone(timeout):
                self.signal_group(signal.SIGKILL)
                self.wait_gone(10)
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._close_logs()

    def _close_logs(self) -> None:
        self._out.close()
        self._err.close()

    def output(self) -> str:
        self._out.flush()
        self._err.flush()
        return self.out_path.read_text(errors="replace") + self.err_path.read_text(errors="replace")

    def tail(self, chars: int = 3000) -> str:
        return f"\n--- {self.name} (pid {self.pid}, exit {self.popen.poll()}) ---\n" + self.output()[-chars:]

    def events(self, event: str | None = None) -> list[dict]:
        """The JSON log lines this process wrote (LOG_FORMAT=json), optionally one event only."""
        found = []
        for line in self.output().splitlines():
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if event is None or record.get("event") == event:
                found.append(record)
        return found


class Procs:
    """Every subprocess a test (or the bench) starts; `stop_all` stops them (newest first), then
    runs the clean-ups deferred to it."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.started: list[Proc] = []
        self._names: dict[str, int] = {}
        self._cleanups: list[Callable[[], None]] = []

    def start(self, name: str, argv: list[str], *, env: dict) -> Proc:
        self._names[name] = self._names.get(name, 0) + 1
        unique = name if self._names[name] == 1 else f"{name}-{self._names[name]}"
        proc = Proc(unique, argv, env=env, log_dir=self.log_dir)
        self.started.append(proc)
        return proc

    def defer(self, cleanup: Callable[[], None]) -> None:
        self._cleanups.append(cleanup)

    def tails(self) -> str:
        return "".join(proc.tail() for proc in self.started)

    def stop_all(self, timeout: float = 3) -> None:
        for proc in reversed(self.started):
            proc.stop(timeout=timeout)
        while self._cleanups:
            self._cleanups.pop()()


class WaitFailed(AssertionError):
    """What `wait_for` raises: an AssertionError, so a test reports it as its failure."""


def wait_for(
    predicate: Callable[[], object],
    *,
    timeout: float,
    what: str,
    procs: Procs | None = None,
    proc: Proc | None = None,
    interval: float = 0.05,
    watch: Callable[[], None] | None = None,
):
    """Poll until `predicate()` is truthy (returned), or fail after `timeout` seconds with the log
    tails of `procs` (every process) or `proc`; fail at once if `proc` exits. `watch` runs on
    every poll and may fail earlier (e.g. a job that stopped heart-beating)."""
    deadline = time.monotonic() + timeout
    while True:
        if watch is not None:
            watch()
        value = predicate()
        if value:
            return value
        if proc is not None and not proc.alive():
            raise WaitFailed(f"{proc.name} exited while waiting for {what}" + _tails(procs, proc))
        if time.monotonic() > deadline:
            raise WaitFailed(f"timed out after {timeout}s waiting for {what}" + _tails(procs, proc))
        time.sleep(interval)


def _tails(procs: Procs | None, proc: Proc | None) -> str:
    return procs.tails() if procs else proc.tail() if proc else ""


def thread_dumps(workers: list[Proc]) -> str:
    """Abort live workers and return the stacks of their threads that were running an export
    (the workers need PYTHONFAULTHANDLER=1: SIGABRT then prints every thread's stack)."""
    dumps = []
    for worker in workers:
        if not worker.alive():
            continue
        worker.signal_group(signal.SIGABRT)
        worker.wait_gone(5)
        output = worker.output()
        blocks = re.split(r"\n(?=(?:Current thread|Thread) 0x)", output[output.find("Fatal Python error") :])
        ours = [block.strip() for block in blocks if f"{ROOT}/exports/" in block]
        dumps.append(f"\n--- {worker.name}: threads in exports/ ---\n" + "\n\n".join(ours or ["(none)"]))
    return "".join(dumps)


# --- environments ------------------------------------------------------------------------------


def database_url(db: dict) -> str:
    """A Django DATABASES entry (e.g. the test database's `connection.settings_dict`) as a
    DATABASE_URL for a subprocess."""
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"


def process_env(
    *, database_url: str, broker_url: str, var_dir: Path, settings: Mapping[str, object], inherit: Iterable[str] = ()
) -> dict[str, str]:
    """Environment of a worker or web process: everything from env vars, as in production. Of
    this process's own variables only INHERITED and `inherit`; JSON logs; then `settings`."""
    env = {name: os.environ[name] for name in (*INHERITED, *inherit) if name in os.environ}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "exportsite.settings",
            "EXPORTSITE_VAR_DIR": str(var_dir),
            "DATABASE_URL": database_url,
            "DRAMATIQ_BROKER_URL": broker_url,
            "LOG_FORMAT": "json",
        }
    )
    env.update({name: str(value) for name, value in settings.items()})
    return env


def start_worker(procs: Procs, name: str, env: dict, *, python: str = PYTHON, threads: int = 2) -> Proc:
    """`manage.py rundramatiq` with one worker process (`env` from `process_env`)."""
    argv = [python, "manage.py", "rundramatiq", "--processes", "1", "--threads", str(threads)]
    # `ulimit -c 0`: thread_dumps' SIGABRT must never leave core files in the repository.
    return procs.start(name, ["sh", "-c", 'ulimit -c 0 && exec "$@"', "sh", *argv], env=env)


def gunicorn_argv() -> list[str]:
    return [str(Path(PYTHON).with_name("gunicorn")), "-c", "python:exportsite.gunicorn", "exportsite.wsgi"]


def gunicorn_env(var_dir: Path, port: int, /, **settings: str) -> dict[str, str]:
    """Environment of a gunicorn (`gunicorn_argv`) with one worker of two threads on
    127.0.0.1:`port`: this process's own without the app's settings, database and broker
    (settings defaults apply), then `settings`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(APP_PREFIXES) and name not in ("DATABASE_URL", "DRAMATIQ_BROKER_URL")
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "exportsite.settings",
            "EXPORTSITE_VAR_DIR": str(var_dir),
            "EXPORTSITE_BIND": f"127.0.0.1:{port}",
            "EXPORTSITE_WEB_WORKERS": "1",
            "EXPORTSITE_WEB_THREADS": "2",
            **settings,
        }
    )
    return env


# --- servers -----------------------------------------------------------------------------------


class RedisServer:
    """A private redis-server that keeps nothing on disk: stopping it loses every message. A
    restart (start after stop) comes back empty on the same port."""

    def __init__(self, procs: Procs):
        self.procs = procs
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: Proc | None = None

    def start(self, timeout: float = 15) -> RedisServer:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = self.procs.start("redis", [*argv, "--daemonize", "no"], env=dict(os.environ))
        wait_for(
            self._ping, timeout=timeout, what="redis-server to accept connections", procs=self.procs, proc=self.proc
        )
        return self

    def _ping(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.exceptions.ConnectionError:
            return False

    def stop(self) -> None:
        assert self.proc is not None, "start() first"
        self.proc.stop(timeout=5)

    def client(self, socket_timeout: float = 2) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=0, socket_timeout=socket_timeout)

    def queued(self, queue: str = "exports.entries") -> int:
        """Messages waiting in a Dramatiq queue (the message hash, delayed queue included)."""
        client = self.client()
        return client.hlen(f"{REDIS_NAMESPACE}:{queue}.msgs") + client.hlen(f"{REDIS_NAMESPACE}:{queue}.DQ.msgs")

    def consumers(self, exclude: Iterable[str] = ()) -> set[str]:
        """Broker ids that talked to this Redis (Dramatiq's heartbeat set), minus `exclude`."""
        # A client without decode_responses returns bytes (redis-py types replies as any encoding).
        members = cast("list[bytes]", self.client().zrange(f"{REDIS_NAMESPACE}:__heartbeats__", 0, -1))
        return {member.decode() for member in members} - set(exclude)

    def forget_consumers(self) -> None:
        """Clear the heartbeat set, so `consumers()` names only brokers that talk from now on."""
        self.client().delete(f"{REDIS_NAMESPACE}:__heartbeats__")


class MotoServer:
    """A private moto S3 server process with `buckets` ({storage alias: bucket}). Its state lives
    in memory: a restart (start after kill or stop) comes back empty on the same port, and
    start() makes the buckets again. `server_env`: extra variables for moto itself."""

    def __init__(self, procs: Procs, *, buckets: dict[str, str], server_env: dict[str, str] | None = None):
        self.procs = procs
        self.buckets = buckets
        self.server_env = server_env or {}
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: Proc | None = None

    def start(self, timeout: float = 30) -> MotoServer:
        argv = [PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.proc = self.procs.start("moto", argv, env={**os.environ, **self.server_env})
        wait_for(
            self._up, timeout=timeout, what="moto server to answer", procs=self.procs, proc=self.proc, interval=0.1
        )
        for bucket in self.buckets.values():
            self.client().create_bucket(Bucket=bucket)
        return self

    def _up(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint, timeout=1) as response:
                return response.status < 500
        except urllib.error.HTTPError as error:
            return error.code < 500
        except OSError:
            return False

    def kill(self) -> None:
        assert self.proc is not None, "start() first"
        self.proc.kill()

    def stop(self, timeout: float = 10) -> None:
        assert self.proc is not None, "start() first"
        self.proc.stop(timeout=timeout)

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, **S3_CREDENTIALS)

    def worker_env(self) -> dict[str, str]:
        """What a worker's environment needs to store the exports of every alias here."""
        return {
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": S3_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": S3_CREDENTIALS["aws_secret_access_key"],
            "AWS_S3_REGION_NAME": S3_CREDENTIALS["region_name"],
            **{f"EXPORTS_STORAGE_{alias.upper()}_BUCKET": bucket for alias, bucket in self.buckets.items()},
        }

    def open_uploads(self) -> list[dict]:
        client = self.client()
        return [
            upload
            for bucket in self.buckets.values()
            for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        ]

    def read(self, key: str, alias: str = "exports") -> bytes:
        return self.client().get_object(Bucket=self.buckets[alias], Key=key)["Body"].read()

    def parts_uploaded(self, key: str, upload_id: str, alias: str = "exports") -> int:
        response = self.client().list_parts(Bucket=self.buckets[alias], Key=key, UploadId=upload_id, MaxParts=10_000)
        return len(response.get("Parts", []))

    def parts_of(self, key: str, alias: str = "exports") -> int:
        """The number of parts a completed multipart object was assembled from (its ETag's -N)."""
        etag = self.client().head_object(Bucket=self.buckets[alias], Key=key)["ETag"].strip('"')
        return int(etag.rsplit("-", 1)[1]) if "-" in etag else 1


class PostgresCluster:
    """A private PostgreSQL server of the machine's version (`pg_config --bindir`): initdb into a
    new folder on first start, then `postgres` on a free port, TCP on 127.0.0.1 only, trust
    authentication, no fsync. stop() is a fast shutdown (`pg_ctl stop -m fast`), kill() a crash;
    start() again restarts it on the same port with its data. The folder goes with stop_all."""

    OWNER = "postgres"  # initdb and postgres refuse to run as root: as root they run as this user

    def __init__(self, procs: Procs, *, settings: Mapping[str, str] | None = None, name: str = "postgres"):
        self.procs = procs
        self.port = free_port()
        self.url = f"postgres://{self.OWNER}@127.0.0.1:{self.port}/postgres"
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout
        self.bindir = Path(bindir.strip())
        self.data_dir: Path | None = None
        self.proc: Proc | None = None
        self.settings = dict(settings or {})  # more `-c name=value` (e.g. wal_level, log_statement)
        self.name = name

    def url_of(self, database: str) -> str:
        return f"postgres://{self.OWNER}@127.0.0.1:{self.port}/{database}"

    def standby(self, *, settings: Mapping[str, str] | None = None, name: str = "standby") -> PostgresCluster:
        """A hot standby of this (running) server: `pg_basebackup -R` into a new folder, streaming
        from here, started on a port of its own."""
        standby = PostgresCluster(self.procs, settings={"hot_standby": "on", **(settings or {})}, name=name)
        folder = self._new_folder()
        backup = [str(self.bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.OWNER]
        # "-c fast": an immediate checkpoint (the default spreads it over minutes).
        argv = [*backup, "-D", str(folder / "data"), "-R", "-X", "stream", "-c", "fast"]
        subprocess.run(self._as_owner(argv), check=True, capture_output=True)
        standby.data_dir = folder / "data"
        return standby.start()

    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        return ["setpriv", "--reuid", self.OWNER, "--regid", self.OWNER, "--init-groups", "--", *argv]

    def _new_folder(self) -> Path:
        # Not under pytest's tmp_path: its folders are private to root, out of the owner's reach.
        folder = Path(tempfile.mkdtemp(prefix="exportsite-pg-"))
        self.procs.defer(lambda: shutil.rmtree(folder, ignore_errors=True))
        if os.geteuid() == 0:
            owner = pwd.getpwnam(self.OWNER)
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        return folder

    def _initdb(self) -> Path:
        folder = self._new_folder()
        initdb = [str(self.bindir / "initdb"), "-D", str(folder / "data"), "-U", self.OWNER, "-A", "trust"]
        subprocess.run(self._as_owner([*initdb, "-E", "UTF8", "--no-sync"]), capture_output=True, check=True)
        return folder / "data"

    def start(self, timeout: float = 30) -> PostgresCluster:
        if self.data_dir is None:
            self.data_dir = self._initdb()
        settings = {"listen_addresses": "127.0.0.1", "unix_socket_directories": "", "fsync": "off", **self.settings}
        argv = [str(self.bindir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        argv += [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]
        self.proc = self.procs.start(self.name, self._as_owner(argv), env=dict(os.environ))
        wait_for(
            self._accepts, timeout=timeout, what="postgres to accept connections", procs=self.procs, proc=self.proc
        )
        return self

    def _accepts(self) -> bool:
        try:
            psycopg.connect(self.url, connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def stop(self) -> None:
        assert self.proc is not None and self.data_dir is not None, "start() first"
        pg_ctl = [str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30"]
        subprocess.run(self._as_owner(pg_ctl), capture_output=True, check=False)
        self.proc.stop(timeout=5)

    def kill(self) -> None:
        assert self.proc is not None, "start() first"
        self.proc.kill()


class RabbitNode:
    """A private RabbitMQ node, never the machine's on 5672: `rabbitmq-server` with its own node
    name, AMQP and distribution ports, data, logs, config (`settings`: rabbitmq.conf entries, e.g.
    consumer_timeout), no plugins, and an Erlang cookie in a new folder. stop() is `rabbitmqctl
    stop`; the folder goes with stop_all, whatever happened."""

    # The Debian wrappers in /usr/sbin switch to the rabbitmq user, who cannot read our folder.
    BIN = Path("/usr/lib/rabbitmq/bin")

    def __init__(self, procs: Procs, *, settings: Mapping[str, object] | None = None):
        self.procs = procs
        self.port, self.dist_port = free_port(), free_port()
        self.node = f"exportsite-test-{os.getpid()}-{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"
        self.folder = Path(tempfile.mkdtemp(prefix="exportsite-rabbit-"))
        procs.defer(lambda: shutil.rmtree(self.folder, ignore_errors=True))
        self.config_file = self.folder / "rabbitmq.conf"
        lines = {"listeners.tcp.1": f"127.0.0.1:{self.port}", **(settings or {})}
        self.config_file.write_text("".join(f"{name} = {value}\n" for name, value in lines.items()))
        (self.folder / "enabled_plugins").write_text("[].\n")
        self.proc: Proc | None = None

    def _env(self) -> dict[str, str]:
        env = {name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL") if name in os.environ}
        return {
            **env,
            "HOME": str(self.folder),  # the node's and rabbitmqctl's Erlang cookie
            "RABBITMQ_CONF_ENV_FILE": "/dev/null",  # not the machine's node name
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.config_file),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "enabled_plugins"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def start(self, timeout: float = 60) -> RabbitNode:
        self.proc = self.procs.start("rabbitmq", [str(self.BIN / "rabbitmq-server")], env=self._env())
        wait_for(
            self._accepts, timeout=timeout, what="the RabbitMQ node to accept AMQP", procs=self.procs, proc=self.proc
        )
        return self

    def _accepts(self) -> bool:
        try:  # a port check first: pika logs every refused connection at ERROR
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            pika.BlockingConnection(pika.URLParameters(self.url + "?connection_attempts=1")).close()
        except (OSError, pika.exceptions.AMQPError):
            return False
        return True

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """`rabbitmqctl -n <node> …`'s output."""
        argv = [str(self.BIN / "rabbitmqctl"), "-n", self.node, *args]
        done = subprocess.run(argv, env=self._env(), capture_output=True, text=True, timeout=timeout, check=True)
        return done.stdout

    def queues(self) -> dict[str, tuple[int, int]]:
        """{queue: (ready, unacknowledged)} on the node."""
        out = self.ctl("list_queues", "-q", "--no-table-headers", "name", "messages_ready", "messages_unacknowledged")
        rows = (line.split() for line in out.splitlines() if line.strip())
        return {name: (int(ready), int(unacked)) for name, ready, unacked in rows}

    def log(self) -> str:
        return "".join(path.read_text(errors="replace") for path in (self.folder / "log").glob("*.log"))

    def stop(self) -> None:
        """`rabbitmqctl stop`, then the process group (SIGTERM, SIGKILL if it lingers)."""
        if self.proc is None:
            return
        if self.proc.alive():
            try:
                self.ctl("stop", timeout=60)
            except (subprocess.SubprocessError, OSError):
                pass
        self.proc.stop(timeout=15)
