"""Subprocesses for the fault tests and the benchmark: each in its own session (so its forked
children can be signalled as a group), output captured to files, stopped group-wide."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What a process started with DJANGO_DEBUG=0 must be given (exportsite/settings.py refuses to start
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
    """Every subprocess a test starts; the fixture stops them all (newest first)."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.started: list[Proc] = []
        self._names: dict[str, int] = {}

    def start(self, name: str, argv: list[str], *, env: dict) -> Proc:
        self._names[name] = self._names.get(name, 0) + 1
        unique = name if self._names[name] == 1 else f"{name}-{self._names[name]}"
        proc = Proc(unique, argv, env=env, log_dir=self.log_dir)
        self.started.append(proc)
        return proc

    def tails(self) -> str:
        return "".join(proc.tail() for proc in self.started)

    def stop_all(self, timeout: float = 3) -> None:
        for proc in reversed(self.started):
            proc.stop(timeout=timeout)
