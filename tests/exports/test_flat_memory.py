"""Workers keep one malloc arena, so buffers freed by any thread serve every thread."""

import platform
import subprocess
import sys
import textwrap

import dramatiq
import pytest

from exportsite import malloc

# Eight threads allocate buffers (by default glibc gives new threads arenas of their own), then
# glibc's malloc_info() reports the process's arenas, one <heap> element each.
_ARENAS_AFTER_THREADS = textwrap.dedent(
    """
    import ctypes, os, sys, tempfile, threading
    from exportsite import malloc
    if sys.argv[1] == "tune":
        assert malloc.malloc_tune()
    libc = ctypes.CDLL("libc.so.6")
    libc.fdopen.restype = ctypes.c_void_p
    start = threading.Barrier(8)

    def allocate():
        start.wait()
        keep = [bytearray(200_000) for _ in range(50)]

    threads = [threading.Thread(target=allocate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with tempfile.TemporaryFile() as report:
        stream = libc.fdopen(os.dup(report.fileno()), b"w")
        libc.malloc_info(0, ctypes.c_void_p(stream))
        libc.fclose(ctypes.c_void_p(stream))
        report.seek(0)
        print(report.read().decode().count("<heap nr="))
    """
)


def _arenas(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _ARENAS_AFTER_THREADS, mode], capture_output=True, text=True, timeout=60, check=True
    )
    return int(done.stdout.strip())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_malloc_tune_keeps_every_thread_on_one_arena():
    assert _arenas("default") > 1  # the test can tell: without tuning, threads get arenas of their own
    assert _arenas("tune") == 1


def test_malloc_tune_is_a_no_op_elsewhere(monkeypatch):
    monkeypatch.setattr(malloc.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert malloc.malloc_tune() is False


def test_every_worker_tunes_malloc_before_it_boots(monkeypatch, transactional_db):
    calls = []

    def counted_tune() -> bool:
        calls.append(1)
        return True

    monkeypatch.setattr(malloc, "malloc_tune", counted_tune)
    worker = dramatiq.Worker(dramatiq.get_broker(), worker_timeout=50, worker_threads=1)
    worker.start()
    worker.stop()
    assert calls == [1]
