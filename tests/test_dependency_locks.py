"""Locked dependencies (issue 12, finding 13) and `make audit` (.ci/audit.py).

The lock checks read the committed files. The audit checks run the real script, which runs the
real pip-audit against an OSV API served by this test on the loopback (the public sources are not
reachable here): unreachable, clean, vulnerable, unfixed, ignored and failing mid-run.
"""

import importlib.util
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import is_postgres
from tests.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
AUDIT = ROOT / ".ci" / "audit.py"
RUNTIME_LOCK = ROOT / "requirements.txt"
DEV_LOCK = ROOT / "requirements-dev.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, sha256 hashes) of a lock; requirement lines continue with a backslash."""
    entries: dict[str, tuple[str, list[str]]] = {}
    logical = re.sub(r"\\\n", " ", path.read_text())
    for line in logical.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: not an exact pin: {line[:80]}"
        entries[canonical(match.group(1))] = (match.group(3), re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
    return entries


def direct_pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            match = PIN.match(line)
            assert match, f"{path.name}: a direct dependency must be pinned with ==: {line}"
            pins[canonical(match.group(1))] = match.group(3)
    return pins


def test_locks_pin_and_hash_every_package():
    for lock in (RUNTIME_LOCK, DEV_LOCK):
        entries = requirements(lock)
        unhashed = [name for name, (_, hashes) in entries.items() if not hashes]
        assert not unhashed, f"{lock.name}: no hash for {unhashed}"
        # The transitive dependencies that used to float.
        for name in ("pyjwt", "urllib3", "redis", "asgiref", "sqlparse", "botocore"):
            assert name in entries, f"{name} is not locked in {lock.name}"
    assert "pika" in requirements(RUNTIME_LOCK)
    assert {"pip-audit", "pip", "uv"} <= requirements(DEV_LOCK).keys()


def test_runtime_lock_is_the_dev_lock_subset_and_matches_the_inputs():
    runtime, dev = requirements(RUNTIME_LOCK), requirements(DEV_LOCK)
    differing = {name: (version, dev.get(name, ("missing",))[0]) for name, (version, _) in runtime.items()}
    assert {n: v for n, v in differing.items() if v[0] != v[1]} == {}
    for source, lock in ((ROOT / "requirements.in", runtime), (ROOT / "requirements-dev.in", dev)):
        for name, version in direct_pins(source).items():
            assert lock[name][0] == version, f"{source.name} pins {name}=={version}, the lock {lock[name][0]}"
    # The runtime tree (a production worker, bench's runtime venv) carries no test or dev tools.
    assert not {"pytest", "moto", "playwright", "schemathesis", "ruff", "mypy", "pip-audit", "uv"} & runtime.keys()


class FakeOsv(BaseHTTPRequestHandler):
    """OSV's /v1/query: `vulns` maps "name==version" (or "name", any version) -> advisories;
    fail_others answers 500 for packages without an entry (a source failing mid-run)."""

    vulns: dict[str, list[dict]] = {}
    fail_others = False

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name = f"{query['package']['name']}=={query['version']}"
        if name not in self.vulns:
            name = query["package"]["name"]
        if name not in self.vulns and self.fail_others:
            self.send_response(500)
            self.end_headers()
            return
        body = json.dumps({"vulns": self.vulns[name]} if name in self.vulns else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def advisory(vuln_id: str, package: str, *, fixed: str | None, aliases: tuple[str, ...] = ()) -> dict:
    events: list[dict[str, str]] = [{"introduced": "0"}] + ([{"fixed": fixed}] if fixed else [])
    return {
        "id": vuln_id,
        "aliases": list(aliases),
        "summary": "test advisory",
        "affected": [
            {"package": {"name": package, "ecosystem": "PyPI"}, "ranges": [{"type": "ECOSYSTEM", "events": events}]}
        ],
    }


CANARY_ADVISORY = advisory("PYSEC-0000-canary", "django", fixed="3.2.1")


@pytest.fixture
def osv() -> Iterator[tuple[type[FakeOsv], str]]:
    handler = type("Osv", (FakeOsv,), {"vulns": {"django==3.2": [CANARY_ADVISORY]}, "fail_others": False})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    finally:
        server.shutdown()
        server.server_close()


def run_audit(osv_url: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AUDIT_SOURCES": "osv", "AUDIT_OSV_URL": osv_url}
    return subprocess.run(
        [sys.executable, str(AUDIT), str(RUNTIME_LOCK), str(DEV_LOCK)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**environ, **env},
        cwd=ROOT,
        check=False,
    )


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="runs pip-audit processes: PostgreSQL pass only")
def test_audit_skipped_not_passed_when_no_source_answers(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}/v1/query"
    result = run_audit(closed, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit: SKIPPED (vulnerability source unreachable)" in result.stdout
    assert "PASSED" not in result.stdout
    assert run_audit(closed, tmp_path, AUDIT_REQUIRE_SOURCE="1").returncode == 1
    # Without pip-audit importable (-S: no site-packages) every probe would fail: an error, not SKIPPED.
    missing = subprocess.run([sys.executable, "-S", str(AUDIT), str(RUNTIME_LOCK)], capture_output=True, text=True)
    assert missing.returncode == 2 and "pip-audit is not installed" in missing.stdout, missing.stdout


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="runs pip-audit processes: PostgreSQL pass only")
def test_audit_source_that_knows_no_canary_advisory_counts_as_unreachable(osv, tmp_path):
    """PyPI's per-release API answering 404 makes pip-audit say "No known vulnerabilities": the
    same when a source answers but knows nothing. Neither may pass."""
    handler, url = osv
    handler.vulns = {}
    result = run_audit(url, tmp_path)
    assert result.returncode == 0 and "SKIPPED" in result.stdout, result.stdout + result.stderr
    assert "reported none of its advisories" in result.stdout


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="runs pip-audit processes: PostgreSQL pass only")
def test_audit_passes_a_clean_tree_and_fails_a_fixable_vulnerability(osv, tmp_path):
    handler, url = osv
    clean = run_audit(url, tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "audit: PASSED (osv)" in clean.stdout
    assert re.search(r"requirements-dev\.txt: \d{3} locked packages checked", clean.stdout)

    urllib3 = requirements(RUNTIME_LOCK)["urllib3"][0]
    handler.vulns = {**handler.vulns, "urllib3": [advisory("GHSA-test-0001", "urllib3", fixed="999.0")]}
    vulnerable = run_audit(url, tmp_path)
    assert vulnerable.returncode == 1, vulnerable.stdout + vulnerable.stderr
    assert f"VULNERABLE: urllib3=={urllib3} GHSA-test-0001; fixed in: 999.0" in vulnerable.stdout
    assert "audit: FAILED - 1 known vulnerabilities with a fix: GHSA-test-0001" in vulnerable.stdout


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="runs pip-audit processes: PostgreSQL pass only")
def test_audit_reports_an_unfixed_vulnerability_without_failing(osv, tmp_path):
    handler, url = osv
    handler.vulns = {**handler.vulns, "pika": [advisory("GHSA-test-0002", "pika", fixed=None)]}
    result = run_audit(url, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no fix available yet (not failing): pika==" in result.stdout


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="runs pip-audit processes: PostgreSQL pass only")
def test_audit_error_mid_run_fails(osv, tmp_path):
    handler, url = osv
    handler.fail_others = True
    result = run_audit(url, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "audit: ERROR auditing" in result.stdout and "PASSED" not in result.stdout


def load_audit_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_audit", AUDIT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_ignore_has_a_reason():
    ignored = load_audit_module().IGNORED
    assert all(isinstance(reason, str) and len(reason.strip()) >= 10 for reason in ignored.values()), ignored


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="runs pip-audit processes: PostgreSQL pass only")
def test_an_ignored_vulnerability_is_listed_with_its_reason(osv, tmp_path, monkeypatch, capsys):
    handler, url = osv
    ignored = advisory("GHSA-test-0003", "urllib3", fixed="999.0", aliases=("CVE-2099-1",))
    handler.vulns = {**handler.vulns, "urllib3": [ignored]}
    monkeypatch.setenv("AUDIT_SOURCES", "osv")
    monkeypatch.setenv("AUDIT_OSV_URL", url)
    audit = load_audit_module()
    status = audit.audit(locks=[RUNTIME_LOCK], ignored={"CVE-2099-1": "not reachable: we never call the affected API"})
    out = capsys.readouterr().out
    assert status == 0, out
    assert "ignored: urllib3==" in out and "- not reachable: we never call the affected API" in out
