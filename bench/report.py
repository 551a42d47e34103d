"""After measuring: the ratios and targets (added to the results), results.json and results.md,
and the summary printed at the end of a run."""

from __future__ import annotations

import json
from pathlib import Path

from bench.fmt import fmt_num, fmt_value
from bench.results_md import render_markdown
from bench.stats import size_label
from bench.type_report import copy_limit_drift, evaluate_types

TARGETS = {
    "fs_vs_copy": ("entries export → filesystem vs COPY (rows/s)", 0.6, "≥"),
    "s3_vs_copy": ("entries export → S3 (moto) vs COPY (rows/s)", 0.5, "≥"),
    # Every S3 run must reach the goal, not only the median one: its slowest run.
    "s3_slowest_vs_copy": ("entries export → S3 (moto) vs COPY, slowest S3 run (rows/s)", 0.5, "≥"),
    "fs_vs_naive": ("entries export → filesystem vs naive Django (rows/s)", 8.0, "≥"),
    "worker_peak_rss_mb": ("worker peak RSS, process tree, any entries run and memory_by_size run (MB)", 150.0, "≤"),
    "rss_growth": ("worker peak RSS, largest filesystem run vs 100k", 1.10, "≤"),
    "rss_growth_types": (
        "worker peak RSS at 5M vs 100k, worst of codes, verifiedEntries, fanlist, reminderEmail",
        1.10,
        "≤",
    ),
    "latency_1k_median_s": ("1k-row export POST → FINISHED, median (s)", 1.0, "≤"),
    # Each type's own targets are in results["types"] (bench/type_report.py); this counts the failures.
    "types_failing": ("per-type sweep: export types failing a target (count)", 0, "≤"),
}


def evaluate(results: dict) -> None:
    """Add ratios_worker_time, rss, ratios, the per-type summaries, the COPY limit's drift and
    the targets to the results."""
    m = results["measurements"]

    def median_rate(name: str) -> float | None:
        item = m.get(name) or {}
        return (item.get("rows_per_s") or {}).get("median")

    def ratio(a: str, b: str) -> float | None:
        x, y = median_rate(a), median_rate(b)
        return x / y if x and y else None

    def slowest_ratio(a: str, b: str) -> float | None:
        x, y = ((m.get(a) or {}).get("rows_per_s") or {}).get("min"), median_rate(b)
        return x / y if x and y else None

    ratios = {
        "fs_vs_copy": ratio("export_fs", "copy_limit"),
        "s3_vs_copy": ratio("export_s3", "copy_limit"),
        "s3_slowest_vs_copy": slowest_ratio("export_s3", "copy_limit"),
        "fs_vs_naive": ratio("export_fs", "naive_django"),
    }
    results["ratios_worker_time"] = _ratios_worker_time(m, copy_rate=median_rate("copy_limit"))
    rss = results["rss"] = _rss_by_size(results)
    # The ceiling holds for every entries export measured; the growth compares filesystem runs.
    peak = max((v["tree_peak_mb"] for v in rss.values()), default=None)
    growth = None
    filesystem = [v for v in rss.values() if v["storage"] == "filesystem"]
    if "100k" in rss and len(filesystem) > 1:
        largest = max(filesystem, key=lambda v: v["rows"] or 0)
        growth = largest["tree_peak_mb"] / rss["100k"]["tree_peak_mb"]
    by_size = results.get("memory_by_size") or {}
    growth_types = max((entry["growth"] for entry in by_size.values()), default=None)
    # Every export's peak counts for the 150 MB ceiling, these ones too.
    peaks = [run["tree_peak_mb"] for entry in by_size.values() for run in (entry["100k"], entry["5M"])]
    if peaks:
        peak = max([peak or 0, *peaks])
    latency = ((results.get("latency_1k") or {}).get("idle") or {}).get("seconds", {}).get("median")
    types_failing = evaluate_types(results)
    results["copy_limit_drift"] = copy_limit_drift(m)
    measured = {**ratios, "worker_peak_rss_mb": peak, "rss_growth": growth, "rss_growth_types": growth_types,
                "latency_1k_median_s": latency, "types_failing": types_failing}  # fmt: skip
    results["ratios"] = {k: v for k, v in ratios.items()}
    results["targets"] = _targets(measured)


def _ratios_worker_time(m: dict, *, copy_rate: float | None) -> dict:
    """For reading only: the ratios to COPY on the job's own time (finished_at - triggered_at),
    without the broker's pickup delay and the bench's polling."""

    def worker_rate(name: str) -> float | None:
        item = m.get(name) or {}
        seconds = (item.get("worker_seconds") or {}).get("median")
        return item["rows"] / seconds if seconds and item.get("rows") else None

    ratios = {}
    for key, name in (("fs_vs_copy", "export_fs"), ("s3_vs_copy", "export_s3")):
        rate = worker_rate(name)
        ratios[key] = rate / copy_rate if rate and copy_rate else None
    return ratios


def _rss_by_size(results: dict) -> dict:
    """The worker's peak RSS of each entries export measured, by size (and S3)."""
    m = results["measurements"]
    rss = {}
    sizes = list(results.get("rss_sizes", []))
    if m.get("export_s3", {}).get("rows"):
        sizes.append((f"{size_label(m['export_s3']['rows'])} (S3)", "export_s3"))
    for label, name in sizes:
        item = m.get(name) or {}
        if item.get("worker_tree_peak_mb") is not None:
            rss[label] = {
                "tree_peak_mb": item["worker_tree_peak_mb"],
                "process_peak_mb": item["worker_process_peak_mb"],
                "rows": item["rows"],
                "storage": "s3" if name == "export_s3" else "filesystem",
            }
    return rss


def _targets(measured: dict) -> dict:
    targets = {}
    for key, (label, goal, op) in TARGETS.items():
        value = measured.get(key)
        if value is None:
            verdict = "SKIP"
        elif op == "≥":
            verdict = "PASS" if value >= goal else "FAIL"
        else:
            verdict = "PASS" if value <= goal else "FAIL"
        targets[key] = {"label": label, "goal": f"{op} {goal:g}", "value": value, "result": verdict}
    return targets


def _type_line(entry: dict) -> str:
    if entry["status"] != "measured":
        return entry.get("reason") or entry["status"]
    own, entries = (fmt_num(entry[name]["median"], 2) for name in ("ratio_vs_own_copy", "ratio_vs_entries"))
    return f"{own} of its own COPY limit, {entries} of entries, peak RSS {fmt_num(entry['peak_rss_mb']['max'])} MB"


def write_results(results: dict, output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (output_dir / "results.md").write_text(render_markdown(results))


def print_summary(results: dict) -> None:
    print()
    print("=" * 78)
    r = results["ratios"]

    def show(value) -> str:
        return "–" if value is None else f"{value:.2f}"

    print(f"ratio 3/1 (export → filesystem / COPY, rows/s):  {show(r['fs_vs_copy'])}")
    print(f"ratio 4/1 (export → S3 moto / COPY, rows/s):     {show(r['s3_vs_copy'])}")
    print(f"ratio 3/2 (export → filesystem / naive Django):  {show(r['fs_vs_naive'])}")
    for label, value in results.get("rss", {}).items():
        print(
            f"worker peak RSS at {label} rows: {value['tree_peak_mb']:.0f} MB (process tree), "
            f"{value['process_peak_mb']:.0f} MB (export process)"
        )
    zip_item = results["measurements"].get("zip_reminder_email")
    if zip_item and zip_item.get("runs"):
        print(f"reminderEmail ZIP: worker peak RSS {zip_item['worker_tree_peak_mb']:.0f} MB (tree)")
    print()
    for target in results["targets"].values():
        print(f"{target['result']:4}  {target['label']}: {fmt_value(target['value'])} (goal {target['goal']})")
    for key, entry in (results.get("types") or {}).items():
        print(f"{entry['result']:5} type {key}: {_type_line(entry)}")
    drift = results.get("copy_limit_drift") or {}
    if drift.get("warning"):
        print(f"\nWARNING: {drift['warning']}")
    if results.get("errors"):
        print(f"\nERRORS in: {', '.join(results['errors'])} (see results.json)")
    print(f"\nruntime {results['runtime_seconds']:.0f} s")
