"""Webhook security (issue 12, finding 4 and the webhook half of finding 1): timestamped
signatures with their own secret, IPv4 embedded in IPv6, DNS rebinding, the egress proxy.

No test contacts anything but loopback and a network namespace it creates itself."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import random
import shutil
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection

from exports import notify
from exports.models import Export
from tests.processes import free_port

HOOK_NAME = "hooks.example.test"
SECRET = "webhook-secret-for-tests-0123456789abcdef"


# --- helpers ---------------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    """Records each POST (request line target, headers, body) and answers 204."""

    calls: list

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.calls.append((self.path, dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def _serve(handler: type[BaseHTTPRequestHandler], *, port: int = 0, tls: ssl.SSLContext | None = None):
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _recorder() -> type[_Recorder]:
    return type("Recorder", (_Recorder,), {"calls": []})


def _resolve_as(monkeypatch, answers: dict[str, list[str]]) -> list[str]:
    """Make these names resolve to these addresses, one answer per lookup (the last repeats),
    as a rebinding DNS server would; other names resolve normally. Returns the lookups made."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        queue = answers[host]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        if address == "":
            raise socket.gaierror(socket.EAI_NONAME, "not known")
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


# --- signatures ------------------------------------------------------------------------------


def test_the_signature_carries_its_time_and_verifies():
    body = b'{"id":"1","status":"FINISHED"}'
    header = notify.sign(body, SECRET, timestamp=1_700_000_000)
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64
    assert notify.verify_signature(header, body, SECRET, 300, now=1_700_000_000 + 299)
    assert notify.verify_signature(header + ",v1=" + "0" * 64, body, SECRET, 300, now=1_700_000_000)


@pytest.mark.parametrize(
    ("change", "now"),
    [
        ("body", 1_700_000_000),
        ("secret", 1_700_000_000),
        ("mac", 1_700_000_000),
        ("timestamp", 1_700_000_000),  # the MAC covers the time: moving it breaks the MAC
        ("none", 1_700_000_000 + 301),  # a replay after the tolerance
        ("none", 1_700_000_000 - 301),  # stamped in the future
        ("malformed", 1_700_000_000),
    ],
)
def test_a_wrong_or_stale_signature_is_refused(change, now):
    body, secret = b'{"id":"1"}', SECRET
    header = notify.sign(body, secret, timestamp=1_700_000_000)
    if change == "body":
        body = b'{"id":"2"}'
    elif change == "secret":
        secret = "another-secret-for-tests-0123456789abcdef"
    elif change == "mac":
        header = header[:-1] + ("0" if header[-1] != "0" else "1")
    elif change == "timestamp":
        header = header.replace("t=1700000000", "t=1700000100")
        now = 1_700_000_100
    elif change == "malformed":
        header = "sha256=" + header.split("v1=")[1]
    assert not notify.verify_signature(header, body, secret, 300, now=now)


@pytest.mark.django_db
def test_the_worker_signs_with_the_webhook_secret_not_secret_key(settings, campaign, reporter):
    from exports.services.notifications import export_send_webhook

    receiver = _recorder()
    server = _serve(receiver)
    try:
        export = Export.objects.create(
            campaign=campaign,
            export_type="entries",
            requester=reporter,
            webhook_url=f"http://127.0.0.1:{server.server_address[1]}/hook",
        )
        export_send_webhook(export_id=str(export.pk))
    finally:
        server.shutdown()
    [(_, headers, body)] = receiver.calls
    signature = headers["X-Exportsite-Signature"]
    assert settings.EXPORTS_WEBHOOK_SECRET != settings.SECRET_KEY
    assert notify.verify_signature(signature, body, settings.EXPORTS_WEBHOOK_SECRET, 300)
    assert not notify.verify_signature(signature, body, settings.SECRET_KEY, 300)


# --- IPv4 embedded in IPv6 -------------------------------------------------------------------

EMBEDDING_PRIVATE = [
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
    "64:ff9b:1::a00:1",  # local-use NAT64 (RFC 8215)
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "::127.0.0.1",  # IPv4-compatible
    "::ffff:10.0.0.1",  # IPv4-mapped
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1 (stored bit-inverted)
]


@pytest.mark.parametrize("address", EMBEDDING_PRIVATE)
def test_ipv6_forms_embedding_a_private_ipv4_are_not_public(address):
    assert not notify.public_address(address)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "11.22.33.2", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1"]
)
def test_genuine_public_addresses_still_pass(address):
    assert notify.public_address(address)


@pytest.mark.parametrize("address", EMBEDDING_PRIVATE)
def test_a_name_resolving_to_an_embedding_form_is_refused_at_send(monkeypatch, address):
    # the second answer fails, so even code that resolved twice would make no outside connection
    _resolve_as(monkeypatch, {HOOK_NAME: [address, ""]})
    with pytest.raises(notify.WebhookRefused, match="non-public"):
        notify.post_webhook(url=f"http://{HOOK_NAME}/hook", payload={}, secret=SECRET)


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["64:ff9b::a9fe:a9fe", "2002:7f00:1::", "::127.0.0.1"])
def test_an_embedding_literal_is_refused_at_request(settings, reporter_client, campaign, address):
    settings.EXPORTS_WEBHOOK_ALLOW_PRIVATE = False
    url = f"http://[{address}]/hook"
    response = reporter_client.post(
        f"/campaigns/{campaign.pk}/exports", {"exportType": "entries", "webhookUrl": url}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["payload"] == "The 'webhookUrl' must point to a public address."


# --- DNS rebinding: connect to the address that was checked ----------------------------------

_NS_RECEIVER = textwrap.dedent(
    """
    import json, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with open(sys.argv[3], "a") as out:
                out.write(json.dumps({"headers": dict(self.headers), "body": body.decode()}) + "\\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    HTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
    """
)


@dataclass(frozen=True)
class _Netns:
    name: str
    host_address: str
    ns_address: str


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def public_looking_netns():
    """A network namespace joined to this one by a veth pair whose addresses look globally
    routable; traffic to them stays on this machine."""
    suffix = uuid.uuid4().hex[:6]
    name, host_if, ns_if = f"exws-{suffix}", f"exwh{suffix}", f"exwn{suffix}"
    base = ipaddress.IPv4Address("11.22.0.0") + 4 * random.randrange(16384)  # noqa: S311 - not crypto
    host_address, ns_address = str(base + 1), str(base + 2)
    assert ipaddress.ip_address(ns_address).is_global
    try:
        if shutil.which("ip") is None:
            raise OSError("the ip command is not installed")
        _ip("netns", "add", name)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", name)
        _ip("addr", "add", f"{host_address}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", name, "addr", "add", f"{ns_address}/30", "dev", ns_if)
        _ip("-n", name, "link", "set", ns_if, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        yield _Netns(name, host_address, ns_address)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        message = f"cannot create a network namespace: {exc} {detail.decode(errors='replace')}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=10)  # its peer goes too
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def _wait_listening(address: str, port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else "receiver exited"
        try:
            socket.create_connection((address, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"receiver on {address}:{port} not listening")


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="starts processes: runs in the PostgreSQL pass")
def test_a_rebinding_name_is_posted_to_the_checked_address_only(public_looking_netns, monkeypatch, tmp_path):
    netns = public_looking_netns
    port = free_port()  # free on loopback; the namespace has its own ports
    loopback = _recorder()
    local_server = _serve(loopback, port=port)
    received = tmp_path / "received.jsonl"
    receiver = subprocess.Popen(
        ["ip", "netns", "exec", netns.name, sys.executable, "-c", _NS_RECEIVER, netns.ns_address, str(port), received],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_listening(netns.ns_address, port, receiver)
        # first answer public (passes the check), every later one 127.0.0.1
        lookups = _resolve_as(monkeypatch, {HOOK_NAME: [netns.ns_address, "127.0.0.1"]})
        status = notify.post_webhook(url=f"http://{HOOK_NAME}:{port}/hook", payload={"a": 1}, secret=SECRET)
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
        local_server.shutdown()
    assert loopback.calls == []  # the second answer (127.0.0.1) was never used
    assert status == 204 and lookups == [HOOK_NAME]  # resolved once
    [delivered] = [json.loads(line) for line in Path(received).read_text().splitlines()]
    assert delivered["headers"]["Host"] == f"{HOOK_NAME}:{port}"
    assert notify.verify_signature(delivered["headers"]["X-Exportsite-Signature"], delivered["body"].encode(), SECRET)


def test_the_host_header_names_the_host_not_the_address(monkeypatch):
    receiver = _recorder()
    server = _serve(receiver)
    port = server.server_address[1]
    _resolve_as(monkeypatch, {HOOK_NAME: ["127.0.0.1"]})
    try:
        notify.post_webhook(url=f"http://{HOOK_NAME}:{port}/hook?x=1", payload={}, secret=SECRET, allow_private=True)
    finally:
        server.shutdown()
    [(path, headers, _)] = receiver.calls
    assert path == "/hook?x=1" and headers["Host"] == f"{HOOK_NAME}:{port}"


# --- TLS: SNI and certificate checked against the host name ----------------------------------


def _certificate(tmp_path: Path, hostname: str) -> tuple[ssl.SSLContext, ssl.SSLContext, list]:
    """A CA and a leaf for `hostname`: (server context recording SNI, client context, SNI seen)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def build(subject: str, key, issuer: x509.Name, signer, *, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "exportsite test CA")])
    ca = build("exportsite test CA", ca_key, ca_name, ca_key, ca=True)
    leaf = build(hostname, leaf_key, ca_name, ca_key, ca=False)
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.key").write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    seen: list = []
    server.sni_callback = lambda sock, name, ctx: seen.append(name)
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client, seen


def test_https_sends_sni_and_verifies_the_certificate_for_the_host_name(monkeypatch, tmp_path):
    server_tls, client_tls, sni = _certificate(tmp_path, HOOK_NAME)
    receiver = _recorder()
    server = _serve(receiver, tls=server_tls)
    port = server.server_address[1]
    _resolve_as(monkeypatch, {HOOK_NAME: ["127.0.0.1"], "other.example.test": ["127.0.0.1"]})
    try:
        url = f"https://{HOOK_NAME}:{port}/hook"
        status = notify.post_webhook(url=url, payload={}, secret=SECRET, allow_private=True, ssl_context=client_tls)
        with pytest.raises(notify.WebhookFailed, match="SSLCertVerificationError"):
            notify.post_webhook(
                url=f"https://other.example.test:{port}/hook",
                payload={},
                secret=SECRET,
                allow_private=True,
                ssl_context=client_tls,
            )
    finally:
        server.shutdown()
    assert status == 204 and sni[0] == HOOK_NAME
    assert len(receiver.calls) == 1 and receiver.calls[0][1]["Host"] == f"{HOOK_NAME}:{port}"


# --- Egress proxy ----------------------------------------------------------------------------


def _proxy(upstream: tuple[str, int] | None = None) -> tuple[ThreadingHTTPServer, list]:
    """A tiny forward proxy: records each request; POSTs get 204, CONNECT relays to `upstream`."""
    calls: list = []

    class Proxy(_Recorder):
        def do_CONNECT(self):  # noqa: N802 - http.server API
            calls.append((f"CONNECT {self.path}", dict(self.headers), b""))
            if upstream is None:
                self.send_error(403)
                return
            remote = socket.create_connection(upstream, timeout=10)
            self.send_response(200, "Connection established")
            self.end_headers()
            threading.Thread(target=_pump, args=(remote, self.connection), daemon=True).start()
            _pump(self.connection, remote)

    Proxy.calls = calls
    return _serve(Proxy), calls


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        try:
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass


@pytest.mark.django_db
def test_with_an_egress_proxy_the_worker_sends_through_it_and_resolves_nothing(
    settings, monkeypatch, campaign, reporter
):
    from exports.services.notifications import export_send_webhook

    proxy, calls = _proxy()
    settings.EXPORTS_WEBHOOK_PROXY = f"http://127.0.0.1:{proxy.server_address[1]}"
    settings.EXPORTS_WEBHOOK_ALLOW_PRIVATE = False
    proxy_url = settings.EXPORTS_WEBHOOK_PROXY
    lookups = _resolve_as(monkeypatch, {"hooks.exportsite.invalid": [""]})  # never answers
    url = "http://hooks.exportsite.invalid:8080/hook?x=1#frag"
    try:
        export = Export.objects.create(campaign=campaign, export_type="entries", requester=reporter, webhook_url=url)
        export_send_webhook(export_id=str(export.pk))
        with pytest.raises(notify.WebhookRefused, match="not public"):  # literals still checked
            notify.post_webhook(url="http://10.0.0.1/hook", payload={}, secret=SECRET, proxy=proxy_url)
    finally:
        proxy.shutdown()
    assert lookups == []
    [(target, headers, body)] = calls
    assert target == "http://hooks.exportsite.invalid:8080/hook?x=1"  # absolute URI, no fragment
    assert headers["Host"] == "hooks.exportsite.invalid:8080"
    assert json.loads(body)["id"] == str(export.pk)
    assert notify.verify_signature(headers["X-Exportsite-Signature"], body, settings.EXPORTS_WEBHOOK_SECRET)


def test_https_through_the_proxy_is_a_tunnel_with_tls_to_the_receiver(monkeypatch, tmp_path):
    server_tls, client_tls, sni = _certificate(tmp_path, HOOK_NAME)
    receiver = _recorder()
    server = _serve(receiver, tls=server_tls)
    proxy, calls = _proxy(upstream=("127.0.0.1", server.server_address[1]))
    lookups = _resolve_as(monkeypatch, {HOOK_NAME: [""]})
    try:
        notify.post_webhook(
            url=f"https://{HOOK_NAME}/hook",
            payload={"a": 1},
            secret=SECRET,
            proxy=f"http://127.0.0.1:{proxy.server_address[1]}",
            ssl_context=client_tls,
        )
    finally:
        proxy.shutdown()
        server.shutdown()
    assert lookups == [] and [target for target, _, _ in calls] == [f"CONNECT {HOOK_NAME}:443"]
    assert sni == [HOOK_NAME] and receiver.calls[0][1]["Host"] == HOOK_NAME
