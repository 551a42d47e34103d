"""What every bench module shares: where things are, the dataset sizes, the log line, BenchError."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
DATA_DIR = BENCH_DIR / "data"  # git-ignored: logs and the files of the last run
# The worker runs from a venv of requirements.txt alone, as deployed: the dev/test extras
# (moto, cryptography, playwright…) are not in a production worker, and some are imported when
# present (django-storages loads cryptography for CloudFront signing: 11 MB of RSS).
RUNTIME_VENV = DATA_DIR / "runtime-venv"
PYTHON = sys.executable
MAX_ENTRIES = 5_000_000
RSS_SMALL_ENTRIES = 100_000
BIG_ENTRIES = 5_000_000
# With --with-5m, flat memory is also measured for one type of each family besides entries
# (codes, scoring records, fanlist) and for the ZIP (bench/sections.py, memory_by_size).
FLAT_MEMORY_TYPES = ("codes", "verifiedEntries", "fanlist", "reminderEmail")
SMALL_CAMPAIGNS = 20
SMALL_ENTRIES = 1000
# demo_dataset_create puts 70% in the first campaign and shares the rest evenly: with 21
# campaigns and this total, campaigns 2-21 get exactly SMALL_ENTRIES entries each.
SMALL_DATASET_TOTAL = 66_667
TERMINAL = ("FINISHED", "FAILED", "CANCELLED", "EXPIRED")
S3_BUCKET = "bench-exports"
BENCH_LOCK_ID = 0x62656E6368  # pg_try_advisory_lock key ("bench"), held for the whole run
MOTO_RESTART_MB = 3000  # moto keeps objects in memory even after a delete; restart it above this
# Variables of the caller's environment passed to the workers (to try settings, e.g.
# EXPORTS_PART_SIZE_KB or EXPORTS_COPY_FAST_PATH=0); storage locations are the bench's own.
PASSTHROUGH_PREFIX = "EXPORTS_"
NOT_PASSED = ("EXPORTS_LOCAL_DIR", "EXPORTS_MAX_ACTIVE_PER_USER", "EXPORTS_WORKER_METRICS_PORT")


class BenchError(Exception):
    pass


def log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)
