"""After the load: the locustfile's tally (status codes, failures and every response time per
endpoint) made into results.json and results.md, and the run's verdict."""

from __future__ import annotations

import json
import math
from pathlib import Path


def percentile(sorted_ms: list[float], share: float) -> float | None:
    """Nearest-rank percentile (exact: one of the measured times)."""
    if not sorted_ms:
        return None
    return round(sorted_ms[max(0, math.ceil(share * len(sorted_ms)) - 1)], 1)


def _row(name: str, times: list[float], seconds: float, **extra) -> dict:
    ordered = sorted(times)
    return {
        "endpoint": name,
        "requests": len(ordered),
        "rps": round(len(ordered) / seconds, 1) if seconds else 0.0,
        "p50_ms": percentile(ordered, 0.50),
        "p99_ms": percentile(ordered, 0.99),
        "max_ms": round(ordered[-1], 1) if ordered else None,
        **extra,
    }


def endpoint_rows(tally: dict) -> tuple[list[dict], dict]:
    """Per endpoint and in total: requests, requests/s, p50/p99/max (ms), failures, status counts."""
    seconds, endpoints = tally["seconds"], tally["endpoints"]
    rows = [
        _row(
            name,
            data["times_ms"],
            seconds,
            failures=sum(data["failures"].values()),
            statuses=dict(sorted(data["statuses"].items())),
            failure_reasons=data["failures"],
        )
        for name, data in sorted(endpoints.items())
    ]
    every = [time for data in endpoints.values() for time in data["times_ms"]]
    total = _row("all", every, seconds, failures=sum(row["failures"] for row in rows), span_s=round(seconds, 1))
    return rows, total


def verdict(rows: list[dict], total: dict, expected_endpoints: list[str]) -> list[str]:
    """What fails the run: any 5xx or request without an answer, any unexpected status or body
    (locust failures), an endpoint the traffic never reached."""
    problems = []
    seen = {row["endpoint"] for row in rows}
    problems += [f"no request reached {name}" for name in expected_endpoints if name not in seen]
    for row in rows:
        server_errors = sum(count for status, count in row["statuses"].items() if status.startswith("5"))
        if server_errors:
            problems.append(f"{server_errors} server errors (5xx) on {row['endpoint']}: {row['statuses']}")
        if row["statuses"].get("0"):
            problems.append(f"{row['statuses']['0']} requests without an answer on {row['endpoint']}")
    if total.get("failures"):
        reasons = {reason: n for row in rows for reason, n in row["failure_reasons"].items()}
        problems.append(f"{total['failures']} failed requests (unexpected status or body): {reasons}")
    return problems


def write_results(results: dict, output_dir: Path) -> tuple[Path, Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = output_dir / "results.json", output_dir / "results.md"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(render_markdown(results))
    return json_path, md_path


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def render_markdown(results: dict) -> str:
    config, totals = results["config"], results["totals"]
    lines = [
        "# API load test results",
        "",
        f"`{results['command']}`, {results['started_at']} on {results['machine']}. Made by `load/run.py`;",
        "see load/README.md for what runs and why.",
        "",
        f"- {config['users']} concurrent locust users (no think time) for {config['duration_s']} s, "
        f"{config['accounts']} accounts over {config['campaigns']} campaigns; per-user rate {config['api_rate']}",
        f"- gunicorn in production mode: {config['web_workers']} workers × {config['web_threads']} threads "
        f"(gthread), PostgreSQL `{config['database']}`, Redis cache and broker (private redis-server)",
        f"- **{totals['rps']} requests/s** over {totals['requests']:,} requests; "
        f"**{totals['server_errors']} 5xx**, {totals['throttled']} throttled (429), "
        f"{totals['failures']} failures",
        f"- CPU time during the load: gunicorn {results['cpu']['gunicorn_s']} s, "
        f"locust {results['cpu']['locust_s']} s, in {results['cpu']['wall_s']} s of wall time; load average "
        f"(1/5/15 min) at the start {' / '.join(str(value) for value in results['load_average_at_start'])}, "
        f"at the end {' / '.join(str(value) for value in results['load_average_at_end'])}",
        f"- verdict: **{'PASS' if not results['problems'] else 'FAIL'}**"
        + "".join(f"\n  - {problem}" for problem in results["problems"]),
        "",
        "| endpoint | requests | req/s | p50 ms | p99 ms | max ms | statuses |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in [*results["endpoints"], {**totals, "endpoint": "**all**", "statuses": {}}]:
        statuses = ", ".join(f"{status}: {count:,}" for status, count in row["statuses"].items())
        lines.append(
            f"| {row['endpoint']} | {row['requests']:,} | {row['rps']} | {_ms(row['p50_ms'])} | "
            f"{_ms(row['p99_ms'])} | {_ms(row['max_ms'])} | {statuses} |"
        )
    lines += ["", "Response times as locust measured them (client side, exact nearest-rank percentiles).", ""]
    return "\n".join(lines)
