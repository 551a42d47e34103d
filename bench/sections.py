"""The order of a bench run: the datasets, then each measurement in a section of its own (a
failed section is recorded and the others still run)."""

from __future__ import annotations

import argparse
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from bench.config import (
    BIG_ENTRIES,
    FLAT_MEMORY_TYPES,
    MOTO_RESTART_MB,
    RSS_SMALL_ENTRIES,
    SMALL_CAMPAIGNS,
    SMALL_ENTRIES,
    log,
)
from bench.measure import concurrent, copy_limit_once, index_plan_options, latency, measure, naive_once
from bench.memory import status_kb
from bench.setup import ensure_datasets, environment, prepare_database
from bench.stats import size_label
from bench.type_sweep import TypeSweep
from bench.worker import WorkerRig
from tests.processes import Procs, RedisServer


class Bench:
    """One run of every measurement; `results` is what results.json holds (before evaluation)."""

    def __init__(self, args: argparse.Namespace, *, env: dict, database_url: str, work: Path, procs: Procs,
                 redis: RedisServer):  # fmt: skip
        self.args = args
        self.env = env
        self.database_url = database_url
        self.work = work
        self.redis = redis
        self.results: dict = {"measurements": {}, "errors": {}}
        self.rig = WorkerRig(procs=procs, redis=redis, env=env, work=work, user=None)

    def measure(self, name: str, label: str, make_run: Callable[[], dict], runs: int) -> dict:
        return measure(self.results, name, label, make_run, runs)

    def section(self, name: str, function: Callable[[], object]) -> None:
        try:
            function()
        except Exception as exc:  # noqa: BLE001 - recorded; the other sections still run
            log(f"{name}: ERROR {exc}")
            self.results["errors"][name] = "".join(traceback.format_exception(exc))[-6000:]

    def stop_worker(self) -> None:
        self.rig.stop_worker()

    def run(self) -> dict:
        args = self.args
        self.rig.user = prepare_database()
        started = time.monotonic()
        datasets = ensure_datasets(args)
        self.results["dataset_seconds"] = time.monotonic() - started
        main_id, main_rows = datasets["main"]["campaign_ids"][0], args.entries
        # The 20 smallest campaigns of the small dataset (SMALL_ENTRIES entries each with today's generator).
        small = sorted(zip(datasets["small"]["sizes"], datasets["small"]["campaign_ids"], strict=True))
        small_ids = sorted(pk for _, pk in small[:SMALL_CAMPAIGNS])
        self.results["datasets"] = datasets
        self.results["environment"] = environment(self.env)
        self.results["parameters"] = {
            "entries": main_rows,
            "repeat": args.repeat,
            "quick": args.quick,
            "skip_s3": args.skip_s3,
            "with_5m": args.with_5m,
            "latency_samples": args.latency_samples,
            "concurrent": args.concurrent,
            "types": None if args.skip_types else args.type_keys,
            "database": urlparse(self.database_url).path.lstrip("/"),
            "worker": "manage.py rundramatiq --processes 1 --threads 1",
        }
        self.section("copy_limit", lambda: self._copy_limit(main_id, size_label(main_rows)))
        if not args.skip_naive:
            self.section("naive_django", lambda: self._naive(main_id, size_label(main_rows)))
        # 3 + 5. the real worker, filesystem storage
        self.redis.start()
        self.section("worker_filesystem", lambda: self._filesystem_worker(datasets, small_ids, main_id, main_rows))
        self.stop_worker()
        # ZIP memory, on a fresh worker (a long-lived one keeps memory from the earlier runs)
        self.section("zip_reminder_email", lambda: self._zip(small_ids, main_id, main_rows))
        self.stop_worker()
        if not args.skip_types:
            self.section("types", lambda: self._types(small_ids, main_id))
            self.stop_worker()
        if args.with_5m:
            self.section("memory_by_size", lambda: self._memory_by_size(datasets, small_ids))
            self.stop_worker()
        if not args.skip_s3:
            self.section("worker_s3", lambda: self._s3_worker(small_ids, main_id, main_rows))
            self.stop_worker()
        if "copy_limit" in self.results["measurements"]:
            self.section("copy_limit_end", lambda: self._copy_limit_end(main_id, size_label(main_rows)))
        return self.results

    def _copy_limit(self, main_id: int, label: str) -> None:
        """1. the limit (one untimed run first: the dataset may be cold after creation). PostgreSQL's
        own plan depends on what else the database holds (with the 5M campaign present it turned
        to a parallel hash join over every fan, 30% slower), so the limit is the faster of that
        plan and the index plan the export's batches use, each measured."""
        index_plan = index_plan_options()

        def once(planner: str = "") -> dict:
            return copy_limit_once(main_id, database_url=self.database_url, work=self.work, planner=planner)

        log("COPY limit: warm-up run")
        once()
        repeat = self.args.repeat
        variants = [
            self.measure("copy_limit_own_plan", f"COPY limit (psql \\copy), PostgreSQL's own plan, {label}",
                         once, repeat),
            self.measure("copy_limit_index_plan", f"COPY limit (psql \\copy), index plan, {label}",
                         lambda: once(index_plan), repeat),
        ]  # fmt: skip
        rates = [(v.get("rows_per_s") or {}).get("median") or 0 for v in variants]
        best = variants[rates.index(max(rates))]
        plan = "PostgreSQL's own plan" if best is variants[0] else "index plan"
        self.results["measurements"]["copy_limit"] = {
            **best,
            "label": f"COPY limit (psql \\copy): the faster plan, {plan}, {label}",
            "plan": plan,
        }

    def _copy_limit_end(self, main_id: int, label: str) -> None:
        """The entries COPY limit again, with the plan chosen at the start: when it moved, something
        else was using the database or the machine meanwhile (bench/type_report.py compares them)."""
        plan = self.results["measurements"]["copy_limit"]["plan"]
        planner = "" if plan == "PostgreSQL's own plan" else index_plan_options()
        self.measure(
            "copy_limit_end", f"COPY limit again at the end of the run, {plan}, {label}",
            lambda: copy_limit_once(main_id, database_url=self.database_url, work=self.work, planner=planner),
            self.args.repeat,
        )  # fmt: skip

    def _naive(self, main_id: int, label: str) -> None:
        """2. naive Django"""
        self.measure(
            "naive_django", f"naive Django (instances + csv.writer), {label}",
            lambda: naive_once(main_id, env=self.env, work=self.work), self.args.repeat,
        )  # fmt: skip

    def _filesystem_worker(self, datasets: dict, small_ids: list[int], main_id: int, main_rows: int) -> None:
        args, rig = self.args, self.rig
        rig.start_worker(s3=False)
        log("worker (filesystem) up; warm-up export")
        rig.export_once(small_ids[0], expect_rows=SMALL_ENTRIES, rss=False)

        log(f"latency of a {SMALL_ENTRIES}-row export, {args.latency_samples} samples")
        self.results["latency_1k"] = {
            "idle": latency(rig, small_ids, samples=args.latency_samples, gap=1.5),
            "back_to_back": latency(rig, small_ids, samples=args.latency_samples, gap=0),
        }
        log(f"{args.concurrent} concurrent {SMALL_ENTRIES}-row exports")
        self.results["concurrent"] = concurrent(rig, small_ids[: args.concurrent])

        rss_sizes = []
        if main_rows != RSS_SMALL_ENTRIES:
            small_id = datasets["100k"]["campaign_ids"][0]
            self.measure(
                "export_fs_100k", "entries export → filesystem, 100k",
                lambda: rig.export_once(small_id, expect_rows=RSS_SMALL_ENTRIES), args.repeat,
            )  # fmt: skip
            rss_sizes.append(("100k", "export_fs_100k"))
        self.measure(
            "export_fs", f"entries export → filesystem, {size_label(main_rows)}",
            lambda: rig.export_once(main_id, expect_rows=main_rows), args.repeat,
        )  # fmt: skip
        rss_sizes.append((size_label(main_rows), "export_fs"))
        if args.with_5m and main_rows != BIG_ENTRIES:
            big_id = datasets["5M"]["campaign_ids"][0]
            self.measure(
                "export_fs_5m", "entries export → filesystem, 5M",
                lambda: rig.export_once(big_id, expect_rows=BIG_ENTRIES), 1,
            )  # fmt: skip
            rss_sizes.append(("5M", "export_fs_5m"))
        self.results["rss_sizes"] = rss_sizes

    def _zip(self, small_ids: list[int], main_id: int, main_rows: int) -> None:
        rig = self.rig
        rig.start_worker(s3=False)
        rig.export_once(small_ids[0], expect_rows=SMALL_ENTRIES, rss=False)  # warm-up
        self.measure(
            "zip_reminder_email", f"reminderEmail ZIP → filesystem, campaign of {size_label(main_rows)} entries",
            lambda: rig.export_once(main_id, "reminderEmail", expect_rows=main_rows), 1,
        )  # fmt: skip

    def _types(self, small_ids: list[int], main_id: int) -> None:
        """The per-type sweep (bench/type_sweep.py): every type on the main campaign."""
        sweep = TypeSweep(
            rig=self.rig, database_url=self.database_url, work=self.work, campaign_id=main_id,
            warmup_campaign_id=small_ids[0], repeat=self.args.repeat, keys=self.args.type_keys,
        )  # fmt: skip
        sweep.run(self.results)

    def _memory_by_size(self, datasets: dict, small_ids: list[int]) -> None:
        """Flat memory beyond entries: one type of each other family at 100k and at 5M entries,
        each export on a fresh worker (after a warm-up), so each peak is that export's alone."""
        from bench.type_requests import type_request

        rig, by_size = self.rig, self.results.setdefault("memory_by_size", {})
        campaigns = {"100k": (datasets["100k"]["campaign_ids"][0], RSS_SMALL_ENTRIES)}
        campaigns["5M"] = (datasets["5M"]["campaign_ids"][0], BIG_ENTRIES)
        for key in FLAT_MEMORY_TYPES:
            entry: dict = {}
            for label, (campaign_id, entries) in campaigns.items():
                body = {k: v for k, v in type_request(key, campaign_id).items() if k != "exportType"}
                rig.start_worker(s3=False)
                rig.export_once(small_ids[0], expect_rows=SMALL_ENTRIES, rss=False)  # warm-up
                run = rig.export_once(campaign_id, key, expect_rows=entries, body=body)
                self.stop_worker()
                entry[label] = {"rows": run["rows"], "tree_peak_mb": run["rss"]["tree_peak_mb"],
                                "process_peak_mb": run["rss"]["process_peak_mb"]}  # fmt: skip
                log(f"  {key} at {label}: {run['rows']:,} rows, worker RSS tree {run['rss']['tree_peak_mb']:.0f} MB")
            entry["growth"] = round(entry["5M"]["tree_peak_mb"] / entry["100k"]["tree_peak_mb"], 3)
            by_size[key] = entry

    def _s3_worker(self, small_ids: list[int], main_id: int, main_rows: int) -> None:
        """4. S3 (moto)"""
        rig = self.rig
        moto = rig.start_moto()
        rig.start_worker(s3=True)
        log("worker (S3, moto) up; warm-up export")
        rig.export_once(small_ids[0], expect_rows=SMALL_ENTRIES, rss=False)
        moto_rss = []

        def one_run(export_type: str = "entries", expect_rows: int = main_rows) -> dict:
            run = rig.export_once(main_id, export_type, expect_rows=expect_rows)
            assert moto.proc is not None
            rss = status_kb(moto.proc.pid)
            run["moto_rss_mb"] = round(rss.get("VmRSS", 0) / 1024)
            moto_rss.append(run["moto_rss_mb"])
            if run["moto_rss_mb"] > MOTO_RESTART_MB:
                # moto's memory does not shrink after a delete; give the next run a fresh server.
                moto.stop(timeout=10)
                rig.start_moto()
            return run

        self.measure("export_s3", f"entries export → S3 (moto), {size_label(main_rows)}", one_run, self.args.repeat)
        # The sweep's ZIP type on S3 too (its entries row reuses export_s3).
        reminder = (self.results.get("types") or {}).get("reminderEmail") or {}
        if reminder.get("status") == "measured":
            expect_rows = reminder["limit_rows"]
            self.measure(
                "export_s3_reminder_email",
                f"reminderEmail ZIP → S3 (moto), campaign of {size_label(main_rows)} entries",
                lambda: one_run("reminderEmail", expect_rows), self.args.repeat,
            )  # fmt: skip
        self.results["moto_rss_mb_after_runs"] = moto_rss
