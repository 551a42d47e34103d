"""The soak's end checks and its report (soak-results.md / soak-results.json)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from soak.faults import KINDS, recovery_seconds
from soak.jobs import with_database
from soak.services import BUCKETS


def checks(services, watcher, injector, reference: dict, *, uploads_seconds: float) -> dict:
    from exports.models import Export

    jobs = watcher.jobs
    ids = [export_id for job in jobs for export_id in job.export_ids]
    exports = {str(e.pk): e for e in with_database(lambda: list(Export.objects.filter(pk__in=ids)))}
    finished = [job for job in jobs if job.status == "FINISHED"]
    stuck = [job for job in jobs if job.status in ("PENDING", "TRIGGERED")]
    other_end = [job for job in jobs if job.status not in ("FINISHED", "PENDING", "TRIGGERED")]
    wrong = [job for job in finished if not job.unverifiable and job.digest != reference[job.key]]
    finish_logs = services.finish_logs()
    twice = sorted(export_id for export_id, count in finish_logs.items() if count > 1)
    uploads = services.open_uploads()
    # Every finished job's files (the reference run's too); anything else stored is an orphan.
    every_finished = with_database(lambda: list(Export.objects.filter(status="FINISHED")))
    owned = {
        (BUCKETS[e.storage_alias], key)
        for e in every_finished
        if e.storage_alias
        for key in ([e.storage_key] if e.storage_key else []) + list(e.storage_keys or [])
    }
    orphans = sorted(services.stored_keys() - owned)

    recoveries: dict[str, list[float | None]] = {kind: [] for kind in KINDS}
    for fault in injector.faults:
        recoveries[fault.kind].append(recovery_seconds(fault, watcher.samples))
    never = sum(1 for values in recoveries.values() for value in values if value is None)
    return {
        "checks": {
            "every job ended FINISHED (transient failures requested again)": (
                not other_end,
                f"{len(finished)} finished, {len(other_end)} other: "
                + "; ".join(f"{j.key[0]}@{j.key[1]} {j.failure}" for j in other_end[:5]),
            ),
            "no job stuck": (
                not stuck,
                f"{len(stuck)} still active: " + ", ".join(j.export_ids[-1] for j in stuck[:5]),
            ),
            "every finished file equals the undisturbed run's": (
                not wrong,
                f"{len(finished) - len(wrong)} equal, {len(wrong)} different, "
                f"{sum(j.unverifiable for j in finished)} unreadable (moto restarted empty before the soak read them)",
            ),
            "every job finished by one run": (not twice, f"{len(twice)} logged 'export finished' twice: {twice[:5]}"),
            "no open multipart uploads after the reconciler's next pass": (
                not uploads,
                f"{len(uploads)} open {uploads_seconds:.0f} s after the drain: "
                + "; ".join(f"{u['Key']} ({u['UploadId'][:12]}…)" for u in uploads[:5]),
            ),
            "no orphan objects": (not orphans, f"{len(orphans)} not owned by a finished job: {orphans[:5]}"),
            "every fault was done": (
                not any(f.error for f in injector.faults),
                "; ".join(f"{f.kind}: {f.error.strip().splitlines()[-1]}" for f in injector.faults if f.error)[:500]
                or "all done",
            ),
            "the jobs moved again after every fault": (never == 0, f"{never} faults after which a job never moved"),
        },
        "faults": {
            kind: {
                "injected": len(values),
                "slowest_recovery_s": max((v for v in values if v is not None), default=None),
                "median_recovery_s": _median([v for v in values if v is not None]),
            }
            for kind, values in recoveries.items()
        },
        "jobs": {
            "requests": len(jobs),
            "exports": len(set(ids)),  # identical requests while one is active share its export
            "requested_again_after_transient_failure": sum(job.requested_again for job in jobs),
            "attempts": sum(e.attempts for e in exports.values()),
            "parts_redone": sum(job.parts_redone for job in jobs),
            "by_type": dict(Counter(job.key[0] for job in jobs)),
        },
    }


def _median(values: list[float]) -> float | None:
    values = sorted(values)
    return values[len(values) // 2] if values else None


def write_report(folder: Path, results: dict, *, args: dict, seconds: float, skipped: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = {**results, "args": {k: str(v) for k, v in args.items()}, "seconds": round(seconds, 1), "skipped": skipped}
    (folder / "soak-results.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    jobs = results["jobs"]
    lines = [
        "# Chaos soak",
        "",
        f"`python soak/run.py --seconds {args['seconds']} --entries {args['entries']}` "
        f"({round(seconds)} s in all, chaos phase {args['seconds']} s, {args['concurrency']} jobs at a time, "
        "2 worker processes × 2 threads, shipped defaults).",
        "",
        "| fault | injected | slowest recovery (s) | median recovery (s) |",
        "|---|---:|---:|---:|",
    ]
    for kind, fault in results["faults"].items():
        slowest, median = fault["slowest_recovery_s"], fault["median_recovery_s"]
        lines.append(
            f"| {kind} | {fault['injected']} | {'-' if slowest is None else f'{slowest:.1f}'} | "
            f"{'-' if median is None else f'{median:.1f}'} |"
        )
    lines += [
        "",
        "Recovery: from the service being back until every job active at the fault had moved again "
        "(more rows, a new attempt, or an end).",
        "",
        "| jobs | exports | attempts | parts redone | requested again (transient failure) |",
        "|---:|---:|---:|---:|---:|",
        f"| {jobs['requests']} | {jobs['exports']} | {jobs['attempts']} | {jobs['parts_redone']} | "
        f"{jobs['requested_again_after_transient_failure']} |",
        "",
        "| check | result | detail |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {'PASS' if ok else 'FAIL'} | {detail} |" for name, (ok, detail) in results["checks"].items()]
    if skipped:
        lines += ["", "Not in the soak (did not finish undisturbed):", *[f"- {line}" for line in skipped]]
    (folder / "soak-results.md").write_text("\n".join(lines) + "\n")
