"""results.md's per-type section: the sweep's table, the S3 rows and the COPY-limit drift line."""

from __future__ import annotations

from bench.fmt import fmt_num, fmt_value


def _ratio_cell(values: dict, runs: int) -> str:
    if values.get("median") is None:
        return "–"
    if runs < 2:
        return f"{values['median']:.2f}"
    return f"{values['median']:.2f} ({values['min']:.2f}–{values['max']:.2f})"


def _type_verdict(entry: dict) -> str:
    if entry["status"] == "skipped":
        return f"skipped: {entry['reason']}"
    if entry["status"] != "measured":
        return f"**ERROR**: {entry['reason'][:200]}" if entry.get("reason") else "**ERROR** (see Errors)"
    names = {"vs_own_copy": "vs own COPY", "vs_entries": "vs entries", "peak_rss_mb": "peak RSS"}
    failed = [
        f"{names[name]} {fmt_value(target['value'])}, goal {target['goal']}"
        for name, target in entry["targets"].items()
        if target["result"] == "FAIL"
    ]
    return f"**{entry['result']}**" + (f" ({'; '.join(failed)})" if failed else "")


def types_section(results: dict) -> list[str]:
    types = results.get("types")
    if not types:
        return []
    rounds = max((entry.get("runs", 0) for entry in types.values()), default=0)
    lines = [
        "",
        f"## Per export type (campaign of {results['parameters']['entries']:,} entries, {rounds} round(s))",
        "",
        "| type | output | rows | own COPY rows/s | export rows/s | ratio vs own COPY | ratio vs entries | MB/s "
        "| peak RSS (MB) | result |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    notes = []
    for key, entry in types.items():
        if entry["status"] != "measured" or not entry.get("runs"):
            lines.append(f"| {key} | {entry['output']} | – | – | – | – | – | – | – | {_type_verdict(entry)} |")
            continue
        vs_entries = _ratio_cell(entry["ratio_vs_entries"], entry["runs"])
        target = entry["targets"]["vs_entries"]
        if target["result"] == "N/A":
            vs_entries += " (own limit governs)"
            notes.append(f"{key}: {target['note']}.")
        if not entry["rows_match"]:
            notes.append(f"{key}: the export wrote {entry['rows']:,} rows, its COPY limit {entry['copy_rows']:,}.")
        lines.append(
            f"| {key} | {entry['output']} | {fmt_num(entry['rows'])} | {fmt_num(entry['copy_rows_per_s']['median'])} "
            f"| {fmt_num(entry['rows_per_s']['median'])} | {_ratio_cell(entry['ratio_vs_own_copy'], entry['runs'])} "
            f"| {vs_entries} | {fmt_num(entry['mb_per_s']['median'], 1)} | {fmt_num(entry['peak_rss_mb']['max'])} "
            f"| {_type_verdict(entry)} |"
        )
    lines += [
        "",
        "Each type on a freshly started worker, after its own COPY limit (`psql \\copy` of the same rows with the "
        "same joins, raw values; the faster of PostgreSQL's own plan and the export's batch plan): rates on the "
        "job's own time (`finished_at − triggered_at`), ratios taken round by round, medians (min–max). Goals: "
        "≥ 0.6 of its own COPY limit (ZIP and multi-object types ≥ 0.4); ≥ 0.5 of the entries export, unless "
        "the type's own COPY limit is under half of the entries export's rows/s (then its own limit governs); "
        "peak RSS of the worker's process tree ≤ 150 MB (the largest of the rounds). MB/s of a ZIP are of the "
        "compressed file.",
    ]
    lines += [f"- {note}" for note in notes]
    lines += _types_s3(types) + _drift(results)
    return lines


def _types_s3(types: dict) -> list[str]:
    measured = [(key, entry["s3"]) for key, entry in types.items() if entry.get("s3")]
    if not measured:
        return []
    lines = ["", "→ S3 (moto), after the sweep on one long-lived S3 worker:", "",
             "| type | rows | export rows/s | ratio vs own COPY | MB/s | peak RSS (MB) |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for key, s3 in measured:
        lines.append(
            f"| {key} | {fmt_num(s3['rows'])} | {fmt_num(s3['rows_per_s']['median'])} "
            f"| {_ratio_cell(s3['ratio_vs_own_copy'], s3['runs'])} | {fmt_num(s3['mb_per_s']['median'], 1)} "
            f"| {fmt_num(s3['peak_rss_mb']['max'])} |"
        )
    return lines


def _drift(results: dict) -> list[str]:
    drift = results.get("copy_limit_drift")
    if not drift:
        return []
    line = (
        f"Entries COPY limit at the start of the run {drift['first_rows_per_s']:,.0f} rows/s, at the end "
        f"{drift['last_rows_per_s']:,.0f} rows/s: moved {drift['moved_percent']:+.1f} %"
    )
    if drift["disturbed"]:
        return ["", f"**{line}, over {drift['threshold_percent']:g} %: the database was not calm; ratios may be off.**"]
    return ["", f"{line} (within {drift['threshold_percent']:g} %: the database was calm)."]
