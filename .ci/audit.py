"""`make audit`: pip-audit over the hashed locks; tells "source unreachable" apart from "clean".

pip-audit's default source (PyPI's per-release JSON) reports a release it cannot fetch as a
skipped dependency and still says "No known vulnerabilities found" with exit 0, so its exit code
alone cannot tell an unreachable source from a clean tree. Each source is therefore probed first
with a canary release that has published, fixed advisories; only a source that reports them is
used. When none does, the audit prints SKIPPED: nothing was checked, which is not a pass.

Exit status: 0 passed, or SKIPPED (1 then instead when AUDIT_REQUIRE_SOURCE=1); 1 a known
vulnerability with a fix available, not ignored; 2 the audit itself failed.
Environment: AUDIT_SOURCES (default "pypi,osv": the order they are tried), AUDIT_OSV_URL (an OSV
API of your own, e.g. a mirror), AUDIT_REQUIRE_SOURCE.
"""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Every accepted vulnerability, in this one place: its ID (or an alias: CVE-…, GHSA-…) -> why it
# does not apply to this service and when to look again. Remove an entry once the fix is locked.
IGNORED: dict[str, str] = {}

# Django 3.2.0 has many published advisories, all fixed in later releases: a source that is
# reachable and working reports them.
CANARY = "django==3.2"
TIMEOUT_SECONDS = "30"


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    vuln_id: str
    aliases: tuple[str, ...]
    fix_versions: tuple[str, ...]
    description: str

    def line(self) -> str:
        fixes = ", ".join(self.fix_versions) or "none yet"
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        return f"{self.package}=={self.version} {self.vuln_id}{aliases}; fixed in: {fixes}"


class AuditError(Exception):
    """pip-audit did not produce a report (connection lost mid-run, a skipped dependency, …)."""


def pip_audit(*, requirements: Path, service: str, hashed: bool) -> dict:
    """One pip-audit run without pip (the locks are complete); its JSON report, or AuditError."""
    with tempfile.TemporaryDirectory(prefix="audit-") as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip_audit", "--requirement", str(requirements), "--disable-pip"]
        cmd += ["--require-hashes", "--strict"] if hashed else ["--no-deps"]
        cmd += ["--vulnerability-service", service, "--timeout", TIMEOUT_SECONDS]
        cmd += ["--progress-spinner", "off", "--format", "json", "--output", str(report)]
        if service == "osv" and os.environ.get("AUDIT_OSV_URL"):
            cmd += ["--osv-url", os.environ["AUDIT_OSV_URL"]]
        # Exit 1 means "vulnerabilities found" and "failed" alike: the report file tells them apart.
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if not report.exists():
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            raise AuditError(lines[-1][:300] if lines else f"pip-audit exited {proc.returncode}")
        return json.loads(report.read_text())


def findings(report: dict) -> list[Finding]:
    return [
        Finding(
            package=dep["name"],
            version=dep.get("version", "?"),
            vuln_id=vuln["id"],
            aliases=tuple(vuln.get("aliases", ())),
            fix_versions=tuple(vuln.get("fix_versions", ())),
            description=vuln.get("description", ""),
        )
        for dep in report.get("dependencies", [])
        for vuln in dep.get("vulns", [])
    ]


def probe(*, service: str, workdir: Path) -> str | None:
    """None when `service` reports the canary's advisories; otherwise why it is not usable."""
    canary = workdir / "canary.txt"
    canary.write_text(CANARY + "\n")
    try:
        report = pip_audit(requirements=canary, service=service, hashed=False)
    except AuditError as error:
        return f"canary {CANARY}: {error}"
    if findings(report):
        return None
    skipped = [dep["skip_reason"] for dep in report.get("dependencies", []) if "skip_reason" in dep]
    return f"canary {CANARY}: " + (skipped[0] if skipped else "answered, but reported none of its advisories")


def ignore_reason(finding: Finding, ignored: dict[str, str]) -> str | None:
    for vuln_id in (finding.vuln_id, *finding.aliases):
        if vuln_id in ignored:
            return ignored[vuln_id]
    return None


def audit(*, locks: list[Path], ignored: dict[str, str]) -> int:
    sources = [s.strip() for s in os.environ.get("AUDIT_SOURCES", "pypi,osv").split(",") if s.strip()]
    unreachable: list[str] = []
    with tempfile.TemporaryDirectory(prefix="audit-probe-") as tmp:
        service = None
        for candidate in sources:
            reason = probe(service=candidate, workdir=Path(tmp))
            if reason is None:
                service = candidate
                break
            unreachable.append(f"{candidate}: {reason}")
    if service is None:
        print("audit: SKIPPED (vulnerability source unreachable) - the locks were NOT checked:")
        for line in unreachable:
            print(f"  {line}")
        return 1 if os.environ.get("AUDIT_REQUIRE_SOURCE") == "1" else 0

    failing: list[Finding] = []
    used: set[str] = set()
    for lock in locks:
        try:
            report = pip_audit(requirements=lock, service=service, hashed=True)
        except AuditError as error:
            print(f"audit: ERROR auditing {lock} against {service}: {error}")
            return 2
        count = len(report.get("dependencies", []))
        print(f"audit: {lock}: {count} locked packages checked against {service}")
        for finding in findings(report):
            reason = ignore_reason(finding, ignored)
            if reason is not None:
                used.update({finding.vuln_id, *finding.aliases} & ignored.keys())
                print(f"  ignored: {finding.line()} - {reason}")
            elif finding.fix_versions:
                print(f"  VULNERABLE: {finding.line()}")
                failing.append(finding)
            else:
                print(f"  no fix available yet (not failing): {finding.line()}")
    for stale in sorted(ignored.keys() - used):
        print(f"  note: the ignore {stale} matched nothing any more; remove it from .ci/audit.py")
    if failing:
        ids = sorted({f.vuln_id for f in failing})
        print(f"audit: FAILED - {len(ids)} known vulnerabilities with a fix: {', '.join(ids)}")
        print("  upgrade: make lock LOCK_ARGS='--upgrade-package NAME', or ignore with a reason in .ci/audit.py")
        return 1
    print(f"audit: PASSED ({service}): no known vulnerability with a fix in {', '.join(map(str, locks))}")
    return 0


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: audit.py LOCK [LOCK ...]", file=sys.stderr)
        return 2
    # Checked first: without it every probe fails, which must not read as "source unreachable".
    if importlib.util.find_spec("pip_audit") is None:
        print(f"audit: ERROR - pip-audit is not installed in {sys.prefix} (it is in requirements-dev.txt)")
        return 2
    return audit(locks=[Path(arg) for arg in argv], ignored=IGNORED)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
