"""Memory of the bench's children: a command's peak RSS, and the RSS of a worker's process tree."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from contextlib import suppress
from pathlib import Path

from bench.config import ROOT, BenchError
from tests.processes import proc_stat


def run_child(argv: list[str], *, env: dict, timeout: float) -> tuple[float, float, str]:
    """Run a command to completion; (wall seconds, the child's peak RSS in MB, its stdout).

    The peak is the child's VmHWM, polled every 10 ms (its rusage ru_maxrss would include the
    pages it shared with this process between fork and exec)."""
    started = time.perf_counter()
    popen = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    peak_kb = [0]
    finished = threading.Event()

    def poll_hwm() -> None:
        while not finished.is_set():
            peak_kb[0] = max(peak_kb[0], status_kb(popen.pid).get("VmHWM", 0))
            finished.wait(0.01)

    poller = threading.Thread(target=poll_hwm, daemon=True)
    poller.start()
    try:
        stdout, stderr = popen.communicate(timeout=timeout)
    except BaseException:
        with suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()
        raise
    finally:
        finished.set()
        poller.join()
    seconds = time.perf_counter() - started
    if popen.returncode != 0:
        raise BenchError(f"{argv[0]} exited with {popen.returncode}: {stderr.decode(errors='replace')[-3000:]}")
    return seconds, peak_kb[0] / 1024, stdout.decode(errors="replace")


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process in KB ({} if it is gone)."""
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, amount = line.split(":", 1)
                values[name] = int(amount.split()[0])
    except OSError:
        pass
    return values


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        stat = proc_stat(int(entry.name))
        if stat and stat[0] != "Z":
            children.setdefault(stat[1], []).append(int(entry.name))
    tree, queue = [], [root]
    while queue:
        pid = queue.pop()
        if proc_stat(pid) is None:
            continue
        tree.append(pid)
        queue.extend(children.get(pid, []))
    return tree


def _process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()[:120]
    except OSError:
        return "?"


class TreeSampler(threading.Thread):
    """Polls VmRSS of every process in a tree (default every 20 ms) and tracks the peak of
    their sum; `window_start` also resets each process's VmHWM (`/proc/PID/clear_refs` = 5),
    so `window_end` reports the kernel's exact per-process peak for the window too."""

    def __init__(self, root: int, interval: float = 0.02):
        super().__init__(name=f"rss-{root}", daemon=True)
        self.root = root
        self.interval = interval
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._pids: list[int] = []
        self._pids_at = 0.0
        self._tree_peak_kb = 0
        self._peaks_kb: dict[int, int] = {}
        self.hwm_reset = True

    def _refresh(self, force: bool = False) -> list[int]:
        now = time.monotonic()
        if force or now - self._pids_at > 0.5:
            self._pids, self._pids_at = process_tree(self.root), now
        return self._pids

    def sample(self) -> None:
        with self._lock:
            total = 0
            for pid in self._refresh():
                rss = status_kb(pid).get("VmRSS", 0)
                total += rss
                self._peaks_kb[pid] = max(self._peaks_kb.get(pid, 0), rss)
            self._tree_peak_kb = max(self._tree_peak_kb, total)

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()

    def window_start(self) -> None:
        with self._lock:
            for pid in self._refresh(force=True):
                try:
                    Path(f"/proc/{pid}/clear_refs").write_text("5")
                except OSError:
                    self.hwm_reset = False
            self._tree_peak_kb = 0
            self._peaks_kb = {}
        self.sample()

    def window_end(self) -> dict:
        self.sample()
        with self._lock:
            processes = [self._process_peaks(pid) for pid in self._refresh(force=True)]
            peak_process = max(
                (max(p["hwm_mb"] or 0, p["sampled_peak_mb"]) for p in processes),
                default=0,
            )
            hwm_sum = sum((p["hwm_mb"] or p["sampled_peak_mb"]) for p in processes)
            return {
                "tree_peak_mb": round(self._tree_peak_kb / 1024, 1),
                "tree_hwm_sum_mb": round(hwm_sum, 1),
                "process_peak_mb": round(peak_process, 1),
                "processes": processes,
            }

    def _process_peaks(self, pid: int) -> dict:
        status = status_kb(pid)
        hwm = status.get("VmHWM", 0) if self.hwm_reset else 0
        return {
            "pid": pid,
            "command": _process_name(pid),
            "hwm_mb": round(hwm / 1024, 1) if self.hwm_reset else None,
            "sampled_peak_mb": round(self._peaks_kb.get(pid, 0) / 1024, 1),
            "rss_after_mb": round(status.get("VmRSS", 0) / 1024, 1),
        }
