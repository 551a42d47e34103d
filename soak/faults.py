"""The fault injector: every few seconds, at random, one fault to one of the soak's processes.
Each fault records when it started and when the service was back, and which jobs were active,
so the report can say how long the jobs took to move again."""

from __future__ import annotations

import random
import threading
import time
import traceback
from dataclasses import dataclass, field

# kind → weight. Restarting moto empty loses every stored object and upload: now and then only.
KINDS = {
    "worker_kill": 4,
    "redis_restart": 2,
    "postgres_restart": 2,
    "moto_freeze": 2,
    "moto_restart_empty": 1,
}


@dataclass
class Fault:
    kind: str
    started: float
    back: float = 0.0
    active: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # export id → (status, rows, attempt)
    error: str = ""


class Injector(threading.Thread):
    def __init__(self, services, watcher, *, seed: int, every: tuple[float, float] = (3.0, 8.0)):
        super().__init__(daemon=True, name="soak-injector")
        self.services = services
        self.watcher = watcher
        self.random = random.Random(seed)
        self.every = every
        self.faults: list[Fault] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.random.uniform(*self.every)):
            kind = self.random.choices(list(KINDS), weights=list(KINDS.values()))[0]
            fault = Fault(kind=kind, started=time.monotonic(), active=self._active())
            print(f"[soak {time.strftime('%H:%M:%S')}] fault: {kind}", flush=True)
            try:
                self._do(kind)
            except Exception:  # noqa: BLE001 - a fault that could not be done is reported
                fault.error = traceback.format_exc(limit=3)
            fault.back = time.monotonic()
            self.faults.append(fault)

    def _active(self) -> dict[str, tuple[str, int, int]]:
        return dict(self.watcher.samples[-1][1]) if self.watcher.samples else {}

    def _do(self, kind: str) -> None:
        services = self.services
        if kind == "worker_kill":
            services.kill_worker(self.random.randrange(services.worker_count))
        elif kind == "redis_restart":
            services.restart_redis()
        elif kind == "postgres_restart":
            services.restart_postgres()
        elif kind == "moto_freeze":
            services.freeze_moto(self.random.uniform(2.0, 6.0))
        elif kind == "moto_restart_empty":
            services.restart_moto_empty()


def recovery_seconds(fault: Fault, samples: list[tuple[float, dict[str, tuple[str, int, int]]]]) -> float | None:
    """Seconds from the service being back until every job active at the fault had moved (more
    rows, another attempt or status); None when a job never moved again in the samples."""
    waiting = {export_id: state for export_id, state in fault.active.items() if state[0] in ("PENDING", "TRIGGERED")}
    if not waiting:
        return 0.0
    for at, seen in samples:
        if at < fault.back:
            continue
        for export_id in list(waiting):
            now = seen.get(export_id)
            if now is None or now != waiting[export_id]:  # ended (gone from the active set) or moved
                del waiting[export_id]
        if not waiting:
            return max(0.0, at - fault.back)
    return None
