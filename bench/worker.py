"""The real thing under measurement: a private Redis, a moto S3 server when asked, one worker
(`manage.py rundramatiq --processes 1 --threads 1` from the runtime venv) with its memory
sampled, and one export requested as `POST /campaigns/{id}/exports` does and waited for."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bench.config import S3_BUCKET, TERMINAL, BenchError
from bench.memory import TreeSampler, process_tree
from bench.setup import runtime_python
from tests.processes import MotoServer, Proc, Procs, RedisServer, start_worker, wait_for


class WorkerRig:
    """The Redis, moto and worker processes of a run, and the exports they serve."""

    def __init__(self, *, procs: Procs, redis: RedisServer, env: dict, work: Path, user):
        self.procs = procs
        self.redis = redis
        self.env = env
        self.files_dir = work / "files"
        self.user = user
        self.moto: MotoServer | None = None
        self.worker: Proc | None = None
        self.sampler: TreeSampler | None = None
        self.storage_mode = "filesystem"

    # --- processes -------------------------------------------------------------------------------

    def start_moto(self) -> MotoServer:
        """Start the moto server (again, on the same port, after a restart)."""
        if self.moto is None:
            self.moto = MotoServer(self.procs, buckets={"exports": S3_BUCKET})
        return self.moto.start()

    def start_worker(self, *, s3: bool) -> None:
        env = dict(self.env)
        if s3:
            assert self.moto is not None, "start_moto() first"
            env.update(self.moto.worker_env())
        self.storage_mode = "s3" if s3 else "filesystem"
        self.redis.forget_consumers()
        name = "worker-s3" if s3 else "worker-fs"
        worker = start_worker(self.procs, name, env, python=runtime_python(), threads=1)
        self.worker = worker
        wait_for(lambda: self.redis.consumers(), timeout=90, what="the worker to consume", interval=0.1, proc=worker)
        # Its processes: the dramatiq main process (rundramatiq execs it) and the worker process.
        wait_for(lambda: len(process_tree(worker.pid)) >= 2, timeout=30, what="worker processes", proc=worker)
        self.sampler = TreeSampler(worker.pid)
        self.sampler.start()

    def stop_worker(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
            self.sampler = None
        if self.worker is not None:
            self.worker.stop(timeout=20)
            self.worker = None

    # --- one export ------------------------------------------------------------------------------

    def request(self, campaign_id: int, body: dict):
        from exports.services import export_request

        export, created = export_request(campaign_id=campaign_id, body=body, user=self.user)
        if not created:
            raise BenchError(f"export of campaign {campaign_id} {body} was merged with an active job")
        return export

    def wait_done(self, export_ids: list, *, started: float, timeout: float, poll: float) -> dict:
        """Poll until every job is terminal; {id: (seconds since `started`, row)}."""
        from exports.models import Export

        done: dict = {}
        fields = ("status", "row_count", "bytes_written", "created_at", "triggered_at", "finished_at", "storage_alias")
        fields += ("storage_keys", "error_message", "error_payload", "attempts")
        while len(done) < len(export_ids):
            rows = Export.objects.filter(pk__in=[pk for pk in export_ids if pk not in done]).values("pk", *fields)
            now = time.perf_counter()
            for row in rows:
                if row["status"] in TERMINAL:
                    done[row["pk"]] = (now - started, row)
            if len(done) == len(export_ids):
                break
            if self.worker is not None and not self.worker.alive():
                raise BenchError("the worker died" + self.worker.tail())
            if now - started > timeout:
                raise BenchError(
                    f"exports not finished after {timeout:.0f}s" + (self.worker.tail() if self.worker else "")
                )
            time.sleep(poll)
        for _, row in done.values():
            if row["status"] != "FINISHED":
                raise BenchError(f"export ended {row['status']}: {row['error_message']} {row['error_payload']}")
        return done

    def export_once(self, campaign_id: int, export_type: str = "entries", *, expect_rows: int, poll: float = 0.02,
                    body: dict | None = None, rss: bool = True,
                    inspect: Callable[[list[Path]], None] | None = None) -> dict:  # fmt: skip
        if rss and self.sampler is not None:
            self.sampler.window_start()
        timeout = 120 + expect_rows / 5000
        started = time.perf_counter()
        export = self.request(campaign_id, {"exportType": export_type, **(body or {})})
        seconds, row = self.wait_done([export.pk], started=started, timeout=timeout, poll=poll)[export.pk]
        result = {
            "seconds": seconds,
            "rows": row["row_count"],
            "bytes": row["bytes_written"],
            "worker_seconds": (row["finished_at"] - row["triggered_at"]).total_seconds(),
            "queue_seconds": (row["triggered_at"] - row["created_at"]).total_seconds(),
            "attempts": row["attempts"],
        }
        if rss and self.sampler is not None:
            result["rss"] = self.sampler.window_end()
        if inspect is not None and self.storage_mode != "s3":
            inspect([self.files_dir / row["storage_alias"] / key for key in row["storage_keys"] or []])
        self.delete_output(row)
        return result

    def delete_output(self, row: dict) -> None:
        keys = row["storage_keys"] or []
        if self.storage_mode == "s3" and row["storage_alias"] == "exports":
            assert self.moto is not None
            client = self.moto.client()
            for key in keys:
                client.delete_object(Bucket=S3_BUCKET, Key=key)
        else:
            for key in keys:
                (self.files_dir / row["storage_alias"] / key).unlink(missing_ok=True)
