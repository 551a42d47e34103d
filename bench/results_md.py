"""results.md: the evaluated results as Markdown tables, one helper per part of the page."""

from __future__ import annotations

from bench.config import SMALL_ENTRIES
from bench.fmt import fmt_num, fmt_spread, fmt_value
from bench.results_md_types import types_section

# Rows of the main table: (number in the README's list, measurement).
TABLE_ORDER = [
    ("1", "copy_limit"),
    ("", "copy_limit_own_plan"),
    ("", "copy_limit_index_plan"),
    ("2", "naive_django"),
    ("3", "export_fs"),
    ("4", "export_s3"),
    ("5", "export_fs_100k"),
    ("5", "export_fs_5m"),
    ("", "zip_reminder_email"),
    ("", "export_s3_reminder_email"),
    ("", "copy_limit_end"),
]


def render_markdown(results: dict) -> str:
    lines = _header(results) + _drift_warning(results) + _measurements(results["measurements"]) + _targets(results)
    lines += _memory(results) + _latency(results) + _concurrent(results) + _zip(results["measurements"])
    lines += _zip_levels(results.get("zip_levels"))
    lines += types_section(results) + _closing(results)
    return "\n".join(lines)


def _header(results: dict) -> list[str]:
    env, params = results["environment"], results["parameters"]
    return [
        "# exportsite benchmark results",
        "",
        f"`bench/run.py` ({'quick' if params['quick'] else 'full'} run), {env['date']}, commit `{env['git_commit']}`. "
        f"Main campaign: {params['entries']:,} entries; each measurement {params['repeat']}× "
        "(min / median / max). Worker: `manage.py rundramatiq --processes 1 --threads 1`, Redis broker.",
        "",
        f"Machine: {env['cpus']} CPUs ({env['cpu_model']}), {env['memory_gb']} GB RAM; Python {env['python']}; "
        f"{env['postgresql'].split(' on ')[0]} (shared_buffers {env['postgresql_settings']['shared_buffers']}). "
        f"Load average at start {', '.join(f'{x:.2f}' for x in env['load_average_start'])}, "
        f"at end {', '.join(f'{x:.2f}' for x in env.get('load_average_end', ()))}.",
        "",
    ]


def _measurements(m: dict) -> list[str]:
    lines = [
        "| # | way | rows | runs | seconds | rows/s | MB/s (median) | peak RSS (MB) |",
        "|---|---|---:|---:|---|---|---:|---:|",
    ]
    for number, name in TABLE_ORDER:
        item = m.get(name)
        if not item:
            continue
        if "worker_tree_peak_mb" in item:
            rss = f"{fmt_num(item['worker_tree_peak_mb'])} (tree) / {fmt_num(item['worker_process_peak_mb'])} (process)"
        else:
            rss = fmt_num(item.get("peak_rss_mb"))
        lines.append(
            f"| {number} | {item['label']} | {fmt_num(item['rows'])} | {item['runs']} "
            f"| {fmt_spread(item['seconds'], 2)} | {fmt_spread(item['rows_per_s'])} "
            f"| {fmt_num(item['mb_per_s']['median'], 1)} | {rss} |"
        )
    return lines + [
        "",
        "Seconds of the worker exports are POST-equivalent (`export_request`) → FINISHED seen by polling;"
        " the job's own `finished_at − triggered_at` is in results.json (`worker_seconds`). "
        "Worker RSS: peak of the summed VmRSS of the worker's process tree (dramatiq main process + worker "
        'process), sampled every 20 ms; "process" is the largest single-process VmHWM (reset before each run).',
    ]


def _targets(results: dict) -> list[str]:
    lines = ["", "## Targets", "", "| target | measured | goal | result |", "|---|---:|---:|---|"]
    for target in results["targets"].values():
        value = fmt_value(target["value"])
        lines.append(f"| {target['label']} | {value} | {target['goal']} | **{target['result']}** |")
    worker_time = results.get("ratios_worker_time") or {}
    if any(value is not None for value in worker_time.values()):
        shown = ", ".join(
            f"{label} {worker_time[key]:.2f}"
            for key, label in (("fs_vs_copy", "filesystem/COPY"), ("s3_vs_copy", "S3/COPY"))
            if worker_time.get(key) is not None
        )
        lines += ["", f"On the job's own time (`finished_at − triggered_at`, no broker pickup): {shown}."]
    return lines


def _memory(results: dict) -> list[str]:
    if not results.get("rss"):
        return []
    lines = ["", "## Worker memory by size (entries export)", "",
             "| rows | tree peak (MB) | export process peak (MB) |", "|---|---:|---:|"]  # fmt: skip
    for label, value in results["rss"].items():
        lines.append(f"| {label} | {fmt_num(value['tree_peak_mb'])} | {fmt_num(value['process_peak_mb'])} |")
    by_size = results.get("memory_by_size") or {}
    if by_size:
        lines += ["", "Other families and the ZIP, each export on a fresh worker (`--with-5m`):", "",
                  "| type | rows at 100k | tree peak (MB) | rows at 5M | tree peak (MB) | 5M / 100k |",
                  "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for key, entry in by_size.items():
            small, big = entry["100k"], entry["5M"]
            lines.append(
                f"| {key} | {small['rows']:,} | {fmt_num(small['tree_peak_mb'])} | {big['rows']:,} | "
                f"{fmt_num(big['tree_peak_mb'])} | {entry['growth']:.2f} |"
            )
    return lines


def _latency(results: dict) -> list[str]:
    latency = results.get("latency_1k")
    if not latency:
        return []
    rows = next((item["rows"] for item in latency.values() if item.get("rows")), SMALL_ENTRIES)
    lines = ["", f"## POST → FINISHED, {rows:,}-row export (Redis broker, worker running)", "",
             "| spacing | samples | median (s) | min (s) | max (s) | queue wait median (s) | run median (s) |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, item in latency.items():
        spacing = f"{item['gap_seconds']} s idle between requests" if item["gap_seconds"] else "back to back"
        lines.append(
            f"| {spacing} ({name}) | {item['samples']} | {fmt_num(item['seconds']['median'], 3)} | "
            f"{fmt_num(item['seconds']['min'], 3)} | {fmt_num(item['seconds']['max'], 3)} | "
            f"{fmt_num(item['queue_seconds']['median'], 3)} | {fmt_num(item['worker_seconds']['median'], 3)} |"
        )
    return lines + ["", "The target is judged on the idle spacing (a request reaching an idle worker)."]


def _concurrent(results: dict) -> list[str]:
    concurrent = results.get("concurrent")
    if not concurrent:
        return []
    return [
        "",
        f"## {concurrent['exports']} concurrent small exports ({concurrent['rows'] // concurrent['exports']:,} "
        "rows each, one per campaign)",
        "",
        f"All requested at once ({concurrent['request_seconds']:.2f} s to request them); the last FINISHED "
        f"after **{concurrent['seconds']:.2f} s** ({concurrent['exports_per_s']:.1f} exports/s, "
        f"{concurrent['rows']:,} rows); each job's run median {concurrent['worker_seconds_each']['median']:.3f} s; "
        f"POST → FINISHED per job min / median / max {fmt_spread(concurrent['per_export_seconds'], 2)} s.",
    ]


def _zip(m: dict) -> list[str]:
    zip_item = m.get("zip_reminder_email")
    if not (zip_item and zip_item.get("runs")):
        return []
    return [
        "",
        "## ZIP memory (reminderEmail)",
        "",
        f"{zip_item['rows']:,} rows, {zip_item['bytes'] / 1e6:.1f} MB ZIP in {zip_item['seconds']['median']:.2f} s "
        f"({zip_item['rows_per_s']['median']:,.0f} rows/s); worker peak RSS "
        f"**{fmt_num(zip_item['worker_tree_peak_mb'])} MB** (tree), "
        f"{fmt_num(zip_item['worker_process_peak_mb'])} MB (export process), fresh worker.",
    ]


def _zip_levels(levels: dict | None) -> list[str]:
    """What each deflate level costs on the sweep's reminderEmail ZIP (bench/zip_levels.py)."""
    if not levels:
        return []
    lines = [
        "",
        "## ZIP levels (deflate cost, reminderEmail members)",
        "",
        f"{levels['members']} members, {levels['raw_bytes'] / 1e6:.1f} MB of CSV, compressed in 1 MiB writes "
        "on one core (`EXPORTS_ZIP_LEVEL`, default 1):",
        "",
        "| level | CPU s | MB/s in | MB out | size vs level 6 |",
        "|---:|---:|---:|---:|---:|",
    ]
    six = levels["levels"].get("6", {}).get("bytes_out") or 0
    for level, item in levels["levels"].items():
        versus = f"{item['bytes_out'] / six:.2f}×" if six else "–"
        lines.append(
            f"| {level} | {item['cpu_seconds']:.3f} | {fmt_num(item['mb_per_s_in'])} | "
            f"{item['bytes_out'] / 1e6:.2f} | {versus} |"
        )
    return lines


def _drift_warning(results: dict) -> list[str]:
    drift = results.get("copy_limit_drift") or {}
    return [f"**Warning: {drift['warning']}** (see the per-type section).", ""] if drift.get("warning") else []


def _closing(results: dict) -> list[str]:
    """moto's memory, the errors, the datasets and the runtime."""
    lines = []
    if results.get("moto_rss_mb_after_runs"):
        lines += ["", f"moto server RSS after each S3 run (MB): {results['moto_rss_mb_after_runs']}."]
    if results.get("errors"):
        lines += ["", "## Errors", ""]
        for name, text in results["errors"].items():
            lines.append(f"- {name}: `{text.strip().splitlines()[-1][:300]}`")
    made = []
    for dataset in {d["name"]: d for d in results.get("datasets", {}).values()}.values():
        how = "reused" if dataset["reused"] else f"made in {dataset['made_seconds']:.0f} s"
        made.append(f"{dataset['name']} ({how})")
    return lines + [
        "",
        f"Datasets (database `{results['parameters']['database']}`): {', '.join(made)}.",
        "",
        f"Total runtime of the benchmark: {results['runtime_seconds']:.0f} s "
        f"(of which {results.get('dataset_seconds', 0):.0f} s making or checking datasets).",
        "",
    ]
