"""After the per-type sweep: each type's summaries (min / median / max over the rounds), its
ratios and targets, and the COPY-limit disturbance check; all added to the results.

Rates of an export are on the job's own time (`finished_at − triggered_at`, the broker's pickup
left out), as `worker_seconds` everywhere; request → FINISHED is kept too (`request_rows_per_s`).
A ratio is taken in each round, between runs measured seconds apart (the type's export and its
own COPY limit; the type's export and the entries export of the same round), and summarized like
any other measurement: the targets are judged on the medians."""

from __future__ import annotations

import statistics

from bench.stats import spread

# Goals (medians): the export against its own COPY limit, by output shape (a ZIP compresses,
# a multi-object export uploads one object per region); against the entries export; memory.
GOAL_VS_OWN_COPY = {"single": 0.6, "zip": 0.4, "multi": 0.4}
GOAL_VS_ENTRIES = 0.5
# A type whose own COPY limit is under this share of the entries export's rows/s cannot reach
# GOAL_VS_ENTRIES whatever it does: then its own limit governs. (Against the entries export, the
# quantity GOAL_VS_ENTRIES is about, not the entries COPY limit: the export's two readers beat
# one psql COPY, so a type could be held to more than its own limit.)
OWN_LIMIT_GOVERNS_BELOW = 0.5
GOAL_PEAK_RSS_MB = 150.0
# The entries COPY limit at the end of the run against the start: beyond this, the database
# (or the machine) was busy with something else and every ratio may be off.
COPY_DRIFT_PERCENT = 15.0


def evaluate_types(results: dict) -> int | None:
    """Add summaries, ratios and targets to results["types"]; the number of types failing a
    target (None when no type was measured)."""
    types = results.get("types") or {}
    for entry in types.values():
        if entry.get("status") == "measured":
            entry.update(_summary(entry["rounds"]))
    reference = types.get("entries") or {}
    for key, entry in types.items():
        if entry.get("status") != "measured":
            # The same keys as a measured type's, empty, so readers need no special case.
            entry.update({name: spread([]) for name in _SPREADS}, rows=None, s3=None)
            entry["result"] = "SKIP" if entry.get("status") == "skipped" else "ERROR"
            continue
        entry["ratio_vs_entries"] = _paired(entry, reference)
        entry["s3"] = _s3(results["measurements"], key, entry)
        entry["targets"] = _targets(entry, reference)
        verdicts = [target["result"] for target in entry["targets"].values()]
        entry["result"] = "FAIL" if "FAIL" in verdicts else "PASS" if "PASS" in verdicts else "SKIP"
    judged = [entry for entry in types.values() if entry.get("result") in ("PASS", "FAIL")]
    return sum(entry["result"] == "FAIL" for entry in judged) if judged else None


# The summaries (min / median / max) every type has in results.json.
_SPREADS = (
    "rows_per_s", "request_rows_per_s", "mb_per_s", "seconds", "worker_seconds", "copy_rows_per_s",
    "copy_own_plan_rows_per_s", "copy_index_plan_rows_per_s", "ratio_vs_own_copy", "ratio_vs_entries",
    "peak_rss_mb", "process_peak_mb",
)  # fmt: skip


def _ok(run: dict | None, seconds: str = "seconds") -> bool:
    """A run that gave a rate (its `seconds` field)."""
    return run is not None and "error" not in run and bool(run.get(seconds))


def _rate(run: dict, seconds: str = "seconds") -> float:
    return run["rows"] / run[seconds]


def _summary(rounds: list[dict]) -> dict:
    # The limit is the faster plan by median, as for the entries limit (bench/sections.py).
    plans = {
        name: [_rate(run[name]) for run in rounds if _ok(run[name])] for name in ("copy_own_plan", "copy_index_plan")
    }
    medians = {name: statistics.median(rates) if rates else 0.0 for name, rates in plans.items()}
    best = max(medians, key=lambda name: medians[name])
    exports = [run["export"] for run in rounds if _ok(run["export"], "worker_seconds")]
    copies = [run[best] for run in rounds if _ok(run[best])]
    ratios = [
        _rate(run["export"], "worker_seconds") / _rate(run[best])
        for run in rounds
        if _ok(run["export"], "worker_seconds") and _ok(run[best])
    ]
    rss = [run["rss"] for run in exports if "rss" in run]
    return {
        "runs": len(exports),
        "rows": exports[0]["rows"] if exports else None,
        "copy_rows": copies[0]["rows"] if copies else None,
        "rows_match": bool(exports and copies) and exports[0]["rows"] == copies[0]["rows"],
        "bytes": exports[0]["bytes"] if exports else None,
        "copy_bytes": copies[0]["bytes"] if copies else None,
        "rows_per_s": spread([_rate(run, "worker_seconds") for run in exports]),
        "request_rows_per_s": spread([_rate(run) for run in exports]),
        "mb_per_s": spread([run["bytes"] / 1e6 / run["worker_seconds"] for run in exports]),
        "seconds": spread([run["seconds"] for run in exports]),
        "worker_seconds": spread([run["worker_seconds"] for run in exports]),
        "copy_plan": "PostgreSQL's own plan" if best == "copy_own_plan" else "index plan",
        "copy_rows_per_s": spread([_rate(run) for run in copies]),
        "copy_own_plan_rows_per_s": spread(plans["copy_own_plan"]),
        "copy_index_plan_rows_per_s": spread(plans["copy_index_plan"]),
        "ratio_vs_own_copy": spread(ratios),
        "peak_rss_mb": spread([value["tree_peak_mb"] for value in rss]),
        "process_peak_mb": spread([value["process_peak_mb"] for value in rss]),
    }


def _paired(entry: dict, reference: dict) -> dict:
    """The type's export rate over the entries export's, round by round."""
    if reference.get("status") != "measured":
        return spread([])
    ratios = []
    for run, other in zip(entry["rounds"], reference["rounds"], strict=False):
        if _ok(run["export"], "worker_seconds") and _ok(other["export"], "worker_seconds"):
            ratios.append(_rate(run["export"], "worker_seconds") / _rate(other["export"], "worker_seconds"))
    return spread(ratios)


def _s3(measurements: dict, key: str, entry: dict) -> dict | None:
    """entries and reminderEmail → S3 (moto), measured in the S3 section, on the job's time."""
    name = {"entries": "export_s3", "reminderEmail": "export_s3_reminder_email"}.get(key)
    item = measurements.get(name or "") or {}
    runs = [run for run in item.get("all_runs", []) if _ok(run, "worker_seconds")]
    if not runs:
        return None
    copy = entry["copy_rows_per_s"]["median"]
    rates = [_rate(run, "worker_seconds") for run in runs]
    return {
        "measurement": name,
        "runs": len(runs),
        "rows": runs[0]["rows"],
        "rows_per_s": spread(rates),
        "request_rows_per_s": spread([_rate(run) for run in runs]),
        "mb_per_s": spread([run["bytes"] / 1e6 / run["worker_seconds"] for run in runs]),
        "peak_rss_mb": spread([run["rss"]["tree_peak_mb"] for run in runs if "rss" in run]),
        # Not paired: the S3 runs come after the sweep; against the median of the type's own limit.
        "ratio_vs_own_copy": spread([rate / copy for rate in rates] if copy else []),
    }


def _targets(entry: dict, reference: dict) -> dict:
    own_goal = GOAL_VS_OWN_COPY[entry["output"]]
    own = entry["ratio_vs_own_copy"]["median"]
    targets = {"vs_own_copy": _verdict(own, own_goal, at_least=True)}
    copy, entries_rate = entry["copy_rows_per_s"]["median"], (reference.get("rows_per_s") or {}).get("median")
    vs_entries = _verdict(entry["ratio_vs_entries"]["median"], GOAL_VS_ENTRIES, at_least=True)
    if copy and entries_rate and copy < OWN_LIMIT_GOVERNS_BELOW * entries_rate:
        vs_entries.update(
            result="N/A",
            note=f"own COPY limit is {copy / entries_rate:.2f} of the entries export's rows/s: "
            "the ratio to its own limit governs",
        )
    targets["vs_entries"] = vs_entries
    # Every storage counts: the filesystem rounds and, for the types also run on S3, those runs.
    peaks = [entry["peak_rss_mb"]["max"], ((entry.get("s3") or {}).get("peak_rss_mb") or {}).get("max")]
    measured = [peak for peak in peaks if peak is not None]
    targets["peak_rss_mb"] = _verdict(max(measured) if measured else None, GOAL_PEAK_RSS_MB, at_least=False)
    return targets


def _verdict(value: float | None, goal: float, *, at_least: bool) -> dict:
    if value is None:
        result = "SKIP"
    else:
        result = "PASS" if (value >= goal if at_least else value <= goal) else "FAIL"
    return {"goal": f"{'≥' if at_least else '≤'} {goal:g}", "value": value, "result": result}


def copy_limit_drift(measurements: dict) -> dict | None:
    """The entries COPY limit at the end of the run against the start (medians, same plan)."""
    first = ((measurements.get("copy_limit") or {}).get("rows_per_s") or {}).get("median")
    last = ((measurements.get("copy_limit_end") or {}).get("rows_per_s") or {}).get("median")
    if not first or not last:
        return None
    moved = (last - first) / first * 100
    disturbed = abs(moved) > COPY_DRIFT_PERCENT
    return {
        "first_rows_per_s": first,
        "last_rows_per_s": last,
        "moved_percent": moved,
        "threshold_percent": COPY_DRIFT_PERCENT,
        "disturbed": disturbed,
        "warning": (
            f"the COPY limit moved by {moved:+.0f} %: the database was not calm; ratios may be off"
            if disturbed
            else None
        ),
    }
