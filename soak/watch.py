"""The soak's view of its jobs: sampled every half second, hashed the moment they finish (moto
forgets everything when it restarts), requested again when they fail as transient."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from soak.jobs import content_digest, request, with_database

ACTIVE = ("PENDING", "TRIGGERED")


@dataclass
class Job:
    """One request of the soak (a `key` = type + campaign), and every export id it took."""

    key: tuple[str, int]
    body: dict
    export_ids: list[str] = field(default_factory=list)
    status: str = "PENDING"
    rows: int = 0
    attempts: int = 0
    parts_seen: dict[int, int] = field(default_factory=dict)  # attempt → most checkpointed parts
    parts_redone: int = 0
    digest: str | None = None
    unverifiable: bool = False  # finished, but moto restarted empty before it could be read
    requested_again: int = 0
    failure: str = ""


class Watcher(threading.Thread):
    def __init__(self, services, user, *, reference: dict[tuple[str, int], str] | None = None):
        super().__init__(daemon=True, name="soak-watcher")
        self.services = services
        self.user = user
        self.reference = reference
        self.jobs: list[Job] = []
        self.lock = threading.Lock()
        self.samples: list[tuple[float, dict[str, tuple[str, int, int]]]] = []  # (t, {id: (status, rows, attempt)})
        self.stopping = threading.Event()

    def add(self, key: tuple[str, int], body: dict) -> Job:
        job = Job(key=key, body=body)
        job.export_ids.append(request(key[1], body, self.user))
        with self.lock:
            self.jobs.append(job)
        return job

    def active(self) -> list[Job]:
        with self.lock:
            return [job for job in self.jobs if job.status in ACTIVE]

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.sample()
            except Exception as error:  # noqa: BLE001 - keep watching; the end checks tell
                print(f"[soak] watcher: {type(error).__name__}: {error}", flush=True)
            time.sleep(0.5)

    def sample(self) -> None:
        from exports.models import Export

        with self.lock:
            current = {job.export_ids[-1]: job for job in self.jobs if job.status in ACTIVE}
        if not current:
            return
        rows = with_database(lambda: list(Export.objects.filter(pk__in=list(current))))
        seen: dict[str, tuple[str, int, int]] = {}
        for export in rows:
            job = current[str(export.pk)]
            seen[str(export.pk)] = (export.status, export.rows_written, export.attempts)
            self._follow(job, export)
        self.samples.append((time.monotonic(), seen))

    def _follow(self, job: Job, export) -> None:
        parts = len(export.checkpoint.get("parts", [])) if isinstance(export.checkpoint, dict) else 0
        if export.attempts > job.attempts and job.attempts:
            # A new attempt: what the old one had stored beyond the point this one resumes from is redone.
            job.parts_redone += max(0, job.parts_seen.get(job.attempts, 0) - parts)
        job.attempts = max(job.attempts, export.attempts)
        job.parts_seen[export.attempts] = max(job.parts_seen.get(export.attempts, 0), parts)
        job.rows = export.rows_written
        if export.status == "FINISHED":
            self._finished(job, export)
        elif export.status == "FAILED" and export.failure_kind == "transient":
            # Its last attempt failed on a fault: the soak asks again (a new job) and counts it.
            job.requested_again += 1
            job.attempts = 0
            job.parts_seen.clear()
            job.export_ids.append(request(job.key[1], job.body, self.user))
        elif export.status not in ACTIVE:
            job.status = export.status
            job.failure = f"{export.status} {export.failure_kind}: {export.error_message[:200]}"

    def _finished(self, job: Job, export) -> None:
        try:
            job.digest = content_digest(export, self.services.read_object)
        except Exception as error:  # noqa: BLE001 - a lost object is told apart below
            if not self.services.object_lost(error):
                raise
            job.unverifiable = True
        job.status = "FINISHED"
