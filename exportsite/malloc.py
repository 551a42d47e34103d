"""Keep an export worker's memory flat: one malloc arena for the whole process.

glibc gives new threads malloc arenas of their own (up to eight per core), and memory freed
into an arena stays there for that arena's next use. An
export moves its bytes across threads: COPY readers allocate the chunks, the job's thread
joins them into parts, the upload thread frees them. Each arena then keeps its own high-water
mark of buffers, and the worker's peak grows with them. One arena (`M_ARENA_MAX` = 1) shares
the freed memory among all threads; the threads hold the GIL for almost every allocation, so
they rarely wait for the arena's lock.

Measured on a 1M-row export through a real worker (two readers): default 128 MB peak RSS,
one arena 95 MB at the default's CPU (1.9 s); pinning the mmap threshold at 128 KiB instead
(this module's first version) also gave 95 MB, but every 256 KiB chunk then became an
mmap/munmap pair and its pages faulted in anew: 2.5 s of worker CPU and 0.6 s slower exports.
Other C libraries: nothing to do.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform

logger = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # glibc's malloc.h


def malloc_tune() -> bool:
    """Limit this process to one malloc arena (glibc); False where that does not apply.
    Call it before the worker's threads start: arenas that exist already are kept."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, 1))
    except (OSError, AttributeError):
        logger.warning("could not tune malloc; worker memory may grow with per-thread arenas")
        return False
