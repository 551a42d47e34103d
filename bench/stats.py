"""Summaries of repeated runs (min / median / max) and the size labels of the reports."""

from __future__ import annotations

import statistics


def spread(values: list[float]) -> dict:
    if not values:
        return {"min": None, "median": None, "max": None}
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def summarize(runs: list[dict]) -> dict:
    ok = [run for run in runs if "error" not in run]
    summary = {
        "runs": len(ok),
        "rows": ok[0]["rows"] if ok else None,
        "bytes": ok[0]["bytes"] if ok else None,
        "seconds": spread([run["seconds"] for run in ok]),
        "rows_per_s": spread([run["rows"] / run["seconds"] for run in ok]),
        "mb_per_s": spread([run["bytes"] / 1e6 / run["seconds"] for run in ok]),
    }
    if ok and "worker_seconds" in ok[0]:
        summary["worker_seconds"] = spread([run["worker_seconds"] for run in ok])
        summary["queue_seconds"] = spread([run["queue_seconds"] for run in ok])
    if ok and "rss" in ok[0]:
        summary["worker_tree_peak_mb"] = max(run["rss"]["tree_peak_mb"] for run in ok)
        summary["worker_process_peak_mb"] = max(run["rss"]["process_peak_mb"] for run in ok)
    if ok and "peak_rss_mb" in ok[0]:
        summary["peak_rss_mb"] = max(run["peak_rss_mb"] for run in ok)
    errors = [run["error"] for run in runs if "error" in run]
    if errors:
        summary["errors"] = errors
    return summary


def size_label(rows: int) -> str:
    if rows >= 1_000_000 and rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows >= 1000 and rows % 1000 == 0:
        return f"{rows // 1000}k"
    return f"{rows:,}"
