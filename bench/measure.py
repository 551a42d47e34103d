"""The measurements: one run each of the COPY limit, the naive Django baseline, a 1k-row
export's latency and the concurrent small exports, and `measure`, which repeats a run and
records its summary in the results."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from bench.config import BENCH_DIR, PYTHON, SMALL_ENTRIES, BenchError, log
from bench.memory import run_child
from bench.stats import spread, summarize
from bench.type_limits import entry_rows_sql
from bench.worker import WorkerRig
from tests.processes import WaitFailed


def measure(results: dict, name: str, label: str, make_run: Callable[[], dict], runs: int) -> dict:
    """`runs` runs of `make_run`, each logged; the summary goes to results["measurements"][name]
    (a failed run is kept as its error; the others still count)."""
    log(f"{label}: {runs} run(s)")
    outcomes = []
    for index in range(runs):
        try:
            run = make_run()
        except (BenchError, WaitFailed) as exc:
            run = {"error": str(exc)[:4000]}
            log(f"  run {index + 1}: ERROR {str(exc)[:600]}")
        else:
            extra = ""
            if "rss" in run:
                extra = f", worker RSS tree {run['rss']['tree_peak_mb']:.0f} MB"
                extra += f" (export process {run['rss']['process_peak_mb']:.0f} MB)"
            elif "peak_rss_mb" in run:
                extra = f", peak RSS {run['peak_rss_mb']:.0f} MB"
            log(
                f"  run {index + 1}: {run['rows']:,} rows in {run['seconds']:.2f}s = "
                f"{run['rows'] / run['seconds']:,.0f} rows/s{extra}"
            )
        outcomes.append(run)
    measurement = {"label": label, **summarize(outcomes), "all_runs": outcomes}
    results["measurements"][name] = measurement
    return measurement


# --- 1. the limit, 2. naive Django ---------------------------------------------------------------


def limit_sql(campaign_id: int) -> str:
    """The entries export's columns as raw values, in id order: what COPY can do at best (the
    query lives with the other types' limits in bench/type_limits.py)."""
    return entry_rows_sql(campaign_id)


def index_plan_options() -> str:
    """PGOPTIONS for the index plan the export's COPY batches use (`BATCH_PLANNER`): an index
    walk with primary-key lookups, no JIT, no parallel workers."""
    from exports.engine.copy.rows import BATCH_PLANNER  # needs Django set up

    return " ".join(f"-c {name}={value}" for name, value in BATCH_PLANNER.items())


def copy_limit_once(campaign_id: int, *, database_url: str, work: Path, planner: str = "", sql: str = "") -> dict:
    """One `psql \\copy` of a limit query (default: the entries limit of the campaign);
    `planner`: extra PGOPTIONS (session settings)."""
    out = work / "copy-limit.tsv"
    sql = sql or limit_sql(campaign_id)
    env = dict(os.environ)
    if planner:
        env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} {planner}".strip()
    if shutil.which("psql"):
        command = f"\\copy ({sql}) TO '{out}' WITH (FORMAT csv, DELIMITER E'\\t', NULL '', HEADER)"
        argv = ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-d", database_url, "-c", command]
    else:  # psycopg COPY in a subprocess
        script = (
            "import sys, psycopg\n"
            "with psycopg.connect(sys.argv[1]) as c, open(sys.argv[2], 'wb') as f, c.cursor() as cur:\n"
            "    with cur.copy(sys.argv[3]) as copy:\n"
            "        for data in copy: f.write(data)\n"
            "    print('COPY', cur.rowcount)\n"
        )
        statement = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, DELIMITER E'\\t', NULL '', HEADER)"
        argv = [PYTHON, "-c", script, database_url, str(out), statement]
    try:
        seconds, peak_mb, stdout = run_child(argv, env=env, timeout=1800)
        match = re.search(r"COPY (\d+)", stdout)
        rows = int(match.group(1)) if match else None
        size = out.stat().st_size
    finally:
        out.unlink(missing_ok=True)
    if rows is None:
        raise BenchError(f"no row count from the COPY client: {stdout[-500:]}")
    return {"seconds": seconds, "rows": rows, "bytes": size, "peak_rss_mb": peak_mb}


def naive_once(campaign_id: int, *, env: dict, work: Path) -> dict:
    out = work / "naive.tsv"
    argv = [PYTHON, str(BENCH_DIR / "naive.py"), "--campaign", str(campaign_id), "--out", str(out)]
    try:
        wall, peak_mb, stdout = run_child(argv, env=env, timeout=7200)
    finally:
        out.unlink(missing_ok=True)
    result = json.loads(stdout.strip().splitlines()[-1])
    return {**result, "process_seconds": wall, "peak_rss_mb": peak_mb}


# --- small exports through the worker ------------------------------------------------------------


def latency(rig: WorkerRig, campaign_ids: list[int], *, samples: int, gap: float) -> dict:
    """POST → FINISHED of 1k-row exports, one after another, `gap` seconds apart."""
    runs = []
    for index in range(samples):
        if gap:
            time.sleep(gap)
        campaign_id = campaign_ids[index % len(campaign_ids)]
        try:
            runs.append(rig.export_once(campaign_id, expect_rows=SMALL_ENTRIES, poll=0.005, rss=False))
        except BenchError as exc:
            runs.append({"error": str(exc)[:2000]})
    ok = [run for run in runs if "error" not in run]
    result = {
        "gap_seconds": gap,
        "samples": len(ok),
        "rows": ok[0]["rows"] if ok else None,
        "seconds": spread([run["seconds"] for run in ok]),
        "queue_seconds": spread([run["queue_seconds"] for run in ok]),
        "worker_seconds": spread([run["worker_seconds"] for run in ok]),
        "all_seconds": [round(run["seconds"], 4) for run in ok],
    }
    if len(ok) < len(runs):
        result["errors"] = [run["error"] for run in runs if "error" in run]
    if result["seconds"]["median"] is not None:
        log(
            f"  gap {gap}s: median {result['seconds']['median']:.3f}s (min {result['seconds']['min']:.3f}, "
            f"max {result['seconds']['max']:.3f}); queue wait median {result['queue_seconds']['median']:.3f}s, "
            f"run median {result['worker_seconds']['median']:.3f}s"
        )
    return result


def concurrent(rig: WorkerRig, campaign_ids: list[int]) -> dict:
    """All requested at once (one per campaign, so dedupe merges nothing); time to the last FINISHED."""
    if rig.sampler is not None:
        rig.sampler.window_start()
    started = time.perf_counter()
    exports = [rig.request(pk, {"exportType": "entries"}) for pk in campaign_ids]
    requested = time.perf_counter() - started
    done = rig.wait_done([e.pk for e in exports], started=started, timeout=600, poll=0.01)
    total = max(seconds for seconds, _ in done.values())
    rows = sum(row["row_count"] for _, row in done.values())
    for _, row in done.values():
        rig.delete_output(row)
    result = {
        "exports": len(exports),
        "rows": rows,
        "seconds": total,
        "request_seconds": requested,
        "per_export_seconds": spread([seconds for seconds, _ in done.values()]),
        "worker_seconds_each": spread(
            [(row["finished_at"] - row["triggered_at"]).total_seconds() for _, row in done.values()]
        ),
        "exports_per_s": len(exports) / total,
    }
    if rig.sampler is not None:
        result["rss"] = rig.sampler.window_end()
    log(f"  {len(exports)} exports ({rows:,} rows) all FINISHED in {total:.2f}s ({len(exports) / total:.1f}/s)")
    return result
