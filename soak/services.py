"""The soak's own servers and workers, and the faults it can do to them (tests/processes.py
starts every process; nothing here touches the machine's shared servers)."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

from tests.processes import (
    PRODUCTION_REQUIRED,
    MotoServer,
    PostgresCluster,
    Proc,
    Procs,
    RedisServer,
    process_env,
    start_worker,
)

ALIASES = ("exports", "scoring", "vf_scoring", "sfmc")
BUCKETS = {alias: f"soak-{alias.replace('_', '-')}" for alias in ALIASES}
WORKER_THREADS = 2


class Services:
    """A private PostgreSQL, Redis and moto, and `workers` worker processes using them."""

    def __init__(self, work: Path, *, workers: int, worker_settings: dict[str, str]):
        self.work = work
        self.procs = Procs(work / "logs")
        self.pg = PostgresCluster(self.procs)
        self.redis = RedisServer(self.procs)
        self.moto = MotoServer(self.procs, buckets=BUCKETS)
        self.worker_count = workers
        self.worker_settings = worker_settings
        self.workers: list[Proc | None] = [None] * workers
        self.every_worker: list[Proc] = []  # every worker process started, for their logs
        self.restarts = 0
        self._moto_frozen = threading.Lock()

    @property
    def database_url(self) -> str:
        return self.pg.url.rsplit("/", 1)[0] + "/soak"

    def start_servers(self) -> None:
        self.pg.start()
        self.redis.start()
        self.moto.start()

    def env(self) -> dict[str, str]:
        return process_env(
            database_url=self.database_url,
            broker_url=self.redis.url,
            var_dir=self.work / "var",
            settings={
                # Production mode, the shipped defaults: only the required secrets, the soak's
                # servers, and no per-user cap (the soak is one user).
                **PRODUCTION_REQUIRED,
                "DJANGO_CACHE_URL": self.redis.url.rsplit("/", 1)[0] + "/1",
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
                "LOG_LEVEL": "INFO",
                **self.moto.worker_env(),
                "EXPORTS_MAX_ACTIVE_PER_USER": "0",
                **self.worker_settings,
            },
        )

    def start_workers(self) -> None:
        for index in range(self.worker_count):
            self.start_worker(index)

    def start_worker(self, index: int) -> None:
        self.restarts += 1
        worker = start_worker(self.procs, f"worker{index}-{self.restarts}", self.env(), threads=WORKER_THREADS)
        self.workers[index] = worker
        self.every_worker.append(worker)

    # --- faults: each returns when the service is back ----------------------------------------
    def kill_worker(self, index: int) -> None:
        worker = self.workers[index]
        if worker is not None:
            worker.kill()
            worker.wait_gone(10)
        self.start_worker(index)

    def restart_redis(self) -> None:
        self.redis.stop()
        self.redis.start()

    def restart_postgres(self) -> None:
        self.pg.stop()
        self.pg.start(timeout=60)

    def freeze_moto(self, seconds: float) -> None:
        assert self.moto.proc is not None
        with self._moto_frozen:
            self.moto.proc.signal_group(signal.SIGSTOP)
            try:
                time.sleep(seconds)
            finally:
                self.moto.proc.signal_group(signal.SIGCONT)

    def restart_moto_empty(self) -> None:
        with self._moto_frozen:
            self.moto.kill()
            self.moto.start()

    # --- reading what the jobs stored ------------------------------------------------------------
    def read_object(self, alias: str, key: str) -> bytes:
        with self._moto_frozen:  # not while frozen: a read would only wait for SIGCONT
            return self.moto.client().get_object(Bucket=BUCKETS[alias], Key=key)["Body"].read()

    @staticmethod
    def object_lost(error: Exception) -> bool:
        """The object is gone because moto restarted empty (not exportsite's doing)."""
        code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
        return code in ("NoSuchKey", "NoSuchBucket", "404")

    def open_uploads(self) -> list[dict]:
        with self._moto_frozen:
            return self.moto.open_uploads()

    def stored_keys(self) -> set[tuple[str, str]]:
        """Every (bucket, key) in the soak's buckets."""
        with self._moto_frozen:
            client = self.moto.client()
            keys = set()
            for bucket in BUCKETS.values():
                for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                    keys |= {(bucket, item["Key"]) for item in page.get("Contents", [])}
            return keys

    def finish_logs(self) -> dict[str, int]:
        """How many times each export id was logged "export finished", over every worker."""
        counts: dict[str, int] = {}
        for worker in self.every_worker:
            for path in (worker.out_path, worker.err_path):  # the files: a killed worker's are closed
                for line in path.read_text(errors="replace").splitlines():
                    if '"export finished"' in line:
                        export_id = json.loads(line).get("export_id", "")
                        counts[export_id] = counts.get(export_id, 0) + 1
        return counts

    def workers_alive(self) -> int:
        return sum(1 for worker in self.workers if worker is not None and worker.alive())

    def stop(self) -> None:
        self.procs.stop_all()
