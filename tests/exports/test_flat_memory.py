"""Workers pin glibc's mmap threshold, so freed part buffers leave the process."""

import platform

import dramatiq
import pytest

from exportsite import malloc


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_malloc_tune_pins_the_mmap_threshold_on_glibc():
    assert malloc.malloc_tune() is True


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
