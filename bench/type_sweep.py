"""The per-type sweep: every export type (or those of `--types`) on the main campaign, `repeat`
rounds of all of them. In each round, for each type: its own COPY limit (bench/type_limits.py),
with PostgreSQL's own plan and with the export's batch plan, then the export through a freshly
started worker (the bench's `WorkerRig`: rundramatiq 1 process × 1 thread, private Redis,
local-folder storage), so the worker's peak RSS is that type's alone. A type's COPY limit and
its export are measured a few seconds apart, which pairs them: each round gives one ratio.

Only the runs are recorded here (results["types"][key]["rounds"]); bench/type_report.py makes
the summaries, ratios and targets of them once the run is over."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field

from bench.config import SMALL_ENTRIES, BenchError, log
from bench.limit_sql import TypeSkipped
from bench.measure import copy_limit_once, index_plan_options
from bench.stats import size_label
from bench.type_limits import type_limit_sql
from bench.type_requests import type_request
from bench.worker import WorkerRig
from bench.zip_levels import deflate_levels

# The type whose first ZIP gives the deflate cost of every level (results["zip_levels"]).
ZIP_LEVELS_TYPE = "reminderEmail"

# The reference of every ratio_vs_entries: measured whatever --types asks for.
REFERENCE = "entries"


def type_keys(requested: str | None) -> list[str]:
    """The types of a sweep, in the registry's order (`requested`: comma-separated keys;
    None: all), `entries` first; ValueError naming any unknown key."""
    from exports.types import EXPORT_TYPES

    if not requested:
        return [REFERENCE, *(key for key in EXPORT_TYPES if key != REFERENCE)]
    keys = {key.strip() for key in requested.split(",") if key.strip()}
    unknown = sorted(keys - set(EXPORT_TYPES))
    if unknown:
        raise ValueError(f"unknown export type(s): {', '.join(unknown)}; known: {', '.join(EXPORT_TYPES)}")
    return [REFERENCE, *(key for key in EXPORT_TYPES if key in keys and key != REFERENCE)]


@dataclass
class SweptType:
    key: str
    body: dict
    sql: str
    rows: int = 0  # of the untimed first COPY (the export's timeout is sized on it)
    rounds: list[dict] = field(default_factory=list)


class TypeSweep:
    def __init__(self, *, rig: WorkerRig, database_url: str, work, campaign_id: int, warmup_campaign_id: int,
                 repeat: int, keys: list[str]):  # fmt: skip
        self.rig = rig
        self.database_url = database_url
        self.work = work
        self.campaign_id = campaign_id
        self.warmup_campaign_id = warmup_campaign_id
        self.repeat = repeat
        self.keys = keys
        self.index_plan = index_plan_options()
        self.zip_levels: dict | None = None

    def run(self, results: dict) -> None:
        """Fill results["types"] (and results["errors"] for a type whose runs failed)."""
        from exports.types import EXPORT_TYPES

        entries = results.setdefault("types", {})
        swept = []
        for key in self.keys:
            export_type = EXPORT_TYPES[key]
            entry: dict = {
                "label": export_type.label,
                "output": export_type.output.value,
                "storage": export_type.storage_alias,
            }
            entries[key] = entry
            try:
                swept_type = self._prepare(key)
            except TypeSkipped as exc:
                entry.update(status="skipped", reason=str(exc))
                log(f"type {key}: skipped: {exc}")
                continue
            except Exception as exc:  # noqa: BLE001 - one type's failure; the others still run
                entry.update(status="failed", reason=str(exc)[:600])
                results["errors"][f"types.{key}"] = "".join(traceback.format_exception(exc))[-6000:]
                log(f"type {key}: ERROR {str(exc)[:600]}")
                continue
            entry.update(status="measured", request=swept_type.body, limit_rows=swept_type.rows)
            entry["rounds"] = swept_type.rounds
            swept.append(swept_type)
        log(f"per-type sweep: {len(swept)} type(s), {self.repeat} round(s), campaign {self.campaign_id}")
        for number in range(1, self.repeat + 1):
            for swept_type in swept:
                swept_type.rounds.append(self._round(swept_type, number))
        for swept_type in swept:
            failed = [run[part]["error"] for run in swept_type.rounds for part in run if "error" in run[part]]
            if failed:
                results["errors"][f"types.{swept_type.key}"] = failed[0]
            if len(failed) == sum(len(run) for run in swept_type.rounds):
                entries[swept_type.key]["status"] = "failed"
        if self.zip_levels is not None:
            results["zip_levels"] = self.zip_levels

    def _prepare(self, key: str) -> SweptType:
        """The request and the limit query, and one untimed COPY (the dataset may be cold; it
        also counts the rows: a type without any is skipped)."""
        body = type_request(key, self.campaign_id)
        swept_type = SweptType(key, body, type_limit_sql(key, self.campaign_id, body))
        swept_type.rows = self._copy(swept_type)["rows"]
        if not swept_type.rows:
            raise TypeSkipped("the dataset has no rows for it (its COPY limit returned none)")
        return swept_type

    def _copy(self, swept_type: SweptType, planner: str = "") -> dict:
        return copy_limit_once(
            self.campaign_id, database_url=self.database_url, work=self.work, planner=planner, sql=swept_type.sql
        )

    def _round(self, swept_type: SweptType, number: int) -> dict:
        """One round of one type: both COPY limits, then the export on a fresh worker."""
        run: dict = {}
        for name, planner in (("copy_own_plan", ""), ("copy_index_plan", self.index_plan)):
            try:
                run[name] = self._copy(swept_type, planner)
            except BenchError as exc:
                run[name] = {"error": str(exc)[:4000]}
        try:
            run["export"] = self._export(swept_type)
        except Exception as exc:  # noqa: BLE001 - recorded (e.g. the request refused); the sweep goes on
            run["export"] = {"error": f"{type(exc).__name__}: {str(exc)[:4000]}"}
        finally:
            self.rig.stop_worker()
        log(_round_line(swept_type.key, number, run))
        return run

    def _export(self, swept_type: SweptType) -> dict:
        rig = self.rig
        rig.start_worker(s3=False)
        # The worker's first job pays for its connections: a 1k-row entries export, not measured.
        rig.export_once(self.warmup_campaign_id, expect_rows=SMALL_ENTRIES, rss=False)
        body = {name: value for name, value in swept_type.body.items() if name != "exportType"}
        inspect = None
        if swept_type.key == ZIP_LEVELS_TYPE and self.zip_levels is None:
            inspect = self._measure_zip_levels
        return rig.export_once(
            self.campaign_id, swept_type.key, expect_rows=swept_type.rows, body=body, inspect=inspect
        )

    def _measure_zip_levels(self, paths) -> None:
        self.zip_levels = {"type": ZIP_LEVELS_TYPE, **deflate_levels(paths[0])}
        levels = self.zip_levels["levels"].items()
        summary = ", ".join(f"{level}: {item['mb_per_s_in']} MB/s, ratio {item['ratio']}" for level, item in levels)
        log(f"deflate levels on the {ZIP_LEVELS_TYPE} ZIP: {summary}")


def _round_line(key: str, number: int, run: dict) -> str:
    parts = []
    for name, label in (("copy_own_plan", "own plan"), ("copy_index_plan", "index plan")):
        copy = run[name]
        parts.append(f"ERROR ({label})" if "error" in copy else f"{copy['seconds']:.2f}s ({label})")
    line = f"  {key} round {number}: COPY {', '.join(parts)}"
    export = run["export"]
    if "error" in export:
        return f"{line}; export ERROR {export['error'][:600]}"
    rate = export["rows"] / export["worker_seconds"] if export["worker_seconds"] else 0
    return (
        f"{line}; export {size_label(export['rows'])} rows in {export['worker_seconds']:.2f}s job time "
        f"({export['seconds']:.2f}s to FINISHED) = {rate:,.0f} rows/s, "
        f"worker RSS tree {export['rss']['tree_peak_mb']:.0f} MB"
    )
