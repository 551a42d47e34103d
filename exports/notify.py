"""Telling people a job ended: an e-mail to the requester and an optional signed webhook.

Thin wrappers over Django's e-mail backend and an HTTP POST; no business rules. The e-mail
links to the export's page (where a fresh link is made on demand), never to a signed URL.
The webhook body is the export's JSON, signed Stripe-style with HMAC-SHA256 over
"<unix seconds>.<exact body bytes>": header `X-Exportsite-Signature: t=<seconds>,v1=<hex>`.
The time is inside the signed string, so a receiver can refuse a replayed delivery
(`verify_signature`).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from django.core.mail import send_mail
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Exportsite-Signature"
USER_AGENT = "exportsite-webhook/1"

# IPv6 ranges whose low 32 bits are an IPv4 address that the packet ends up at: checked on that.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# RFC 8215 local-use NAT64: the IPv4 may sit at any RFC 6052 offset, and it is never a public
# destination anyway, so the whole prefix is refused.
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


class WebhookFailed(Exception):
    """The receiver did not answer 2xx; the actor retries with backoff."""


class WebhookRefused(Exception):
    """The destination is not allowed (an address inside a private network, or a redirect):
    never sent, never retried."""


# --- Signatures ------------------------------------------------------------------------------


def sign(body: bytes, secret: str, *, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp` (unix seconds)."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return f"t={timestamp},v1=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify_signature(
    header: str, body: bytes, secret: str, tolerance_seconds: int = 300, now: float | None = None
) -> bool:
    """True if `header` is a valid signature of the raw `body` made within `tolerance_seconds`.

    Self-contained (hashlib, hmac, time) so receivers can copy it. Several `v1=` entries are
    accepted (any may match), which leaves room to roll the secret without a flag day."""
    timestamp, macs = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            macs.append(value)
    if timestamp is None or not macs:
        return False
    # A captured delivery replayed later is refused; so is one stamped far in the future.
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        return False
    expected = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, mac) for mac in macs)


# --- Destination checks (SSRF) ---------------------------------------------------------------


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def _translated_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, IPv4-compatible or NAT64 address stands for."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _tunnelled_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 endpoints a 6to4 or Teredo address routes through."""
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip.teredo is not None:
        return ip.teredo  # (server, client); ipaddress already un-inverts the client bits
    return ()


def public_address(address: str) -> bool:
    """True for an address on the public internet (not private, loopback, link-local, shared,
    reserved or multicast). IPv6 forms that embed an IPv4 address are judged on that address
    too: `64:ff9b::a9fe:a9fe` is 169.254.169.254 (cloud metadata) behind a NAT64 gateway."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv4Address):
        return _public(ip)
    if ip in _NAT64_LOCAL:
        return False
    translated = _translated_ipv4(ip)
    if translated is not None:
        return _public(translated)
    return _public(ip) and all(_public(v4) for v4 in _tunnelled_ipv4(ip))


_Sockaddr = tuple[socket.AddressFamily, tuple[Any, ...]]


def _resolve(host: str, port: int) -> list[_Sockaddr]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookFailed(f"webhook host not resolved: {type(exc).__name__}") from exc
    return [(family, sockaddr) for family, _, _, _, sockaddr in found]


def webhook_destination_check(url: str) -> list[_Sockaddr]:
    """Resolve the URL's host once and refuse it if any address is non-public (SSRF). Returns
    the checked addresses: the POST connects to exactly these, never resolving again, so a name
    that answers differently the second time (DNS rebinding) cannot redirect it."""
    target = _Target.parse(url)
    addresses = _resolve(target.host, target.port)
    refused = sorted({str(sockaddr[0]) for _, sockaddr in addresses if not public_address(str(sockaddr[0]))})
    if refused:
        raise WebhookRefused(f"webhook host resolves to non-public address(es) {', '.join(refused)}")
    return addresses


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent on the request line
    url: str  # the absolute URL without its fragment, as sent to a proxy

    @classmethod
    def parse(cls, url: str) -> _Target:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise WebhookRefused("webhook URL is not an absolute http(s) URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        absolute = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
        return cls(parts.scheme, parts.hostname, port, path, absolute)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


# --- Connections -----------------------------------------------------------------------------


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to addresses already checked instead of resolving the host again; the Host
    header still names the host."""

    def __init__(self, host: str, port: int, *, addresses: list[_Sockaddr], timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        last: OSError = OSError("no address to connect to")
        for family, sockaddr in self._addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(self.timeout)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                last = exc
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = sock
            return
        raise last


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """TLS over the checked address; SNI and certificate verification use the host name."""

    default_port = 443

    def __init__(self, host: str, port: int, *, addresses: list[_Sockaddr], timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, addresses=addresses, timeout=timeout)
        self._context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


def _direct_connection(
    target: _Target, *, allow_private: bool, timeout: float, context: ssl.SSLContext
) -> http.client.HTTPConnection:
    addresses = _resolve(target.host, target.port) if allow_private else webhook_destination_check(target.url)
    if target.scheme == "https":
        return _PinnedHTTPSConnection(target.host, target.port, addresses=addresses, timeout=timeout, context=context)
    return _PinnedHTTPConnection(target.host, target.port, addresses=addresses, timeout=timeout)


def _proxy_connection(
    target: _Target, proxy: str, *, allow_private: bool, timeout: float, context: ssl.SSLContext
) -> tuple[http.client.HTTPConnection, str]:
    """A connection to the egress proxy and the request target to send it. The proxy resolves
    and connects, so it must enforce the destination policy itself: a local check would
    resolve a name the proxy then resolves again, the very gap that rebinding exploits. IP
    literals need no resolution, so they are still checked here."""
    if not allow_private:
        try:
            literal = public_address(target.host)
        except ValueError:  # a name: the proxy's to check
            literal = True
        if not literal:
            raise WebhookRefused(f"webhook address {target.host} is not public")
    parts = urllib.parse.urlsplit(proxy)
    if parts.scheme != "http" or not parts.hostname:
        raise WebhookFailed("webhook proxy must be an http://host:port URL")
    proxy_port = parts.port or 80
    if target.scheme == "https":
        # CONNECT tunnel: TLS runs end to end with the receiver, SNI and verification by name.
        tunnel = http.client.HTTPSConnection(parts.hostname, proxy_port, timeout=timeout, context=context)
        tunnel.set_tunnel(target.host, target.port)
        return tunnel, target.path
    return http.client.HTTPConnection(parts.hostname, proxy_port, timeout=timeout), target.url


# --- Sending ---------------------------------------------------------------------------------


def send_export_email(*, to: str, subject: str, context: dict) -> None:
    body = render_to_string("exports/email/export_ended.txt", context)
    send_mail(subject, body, None, [to], fail_silently=False)


def post_webhook(
    *,
    url: str,
    payload: dict,
    secret: str,
    allow_private: bool = False,
    proxy: str = "",
    timeout: float = 10.0,
    ssl_context: ssl.SSLContext | None = None,
    now: float | None = None,
) -> int:
    """POST the signed payload; returns the 2xx status. Redirects are never followed."""
    target = _Target.parse(url)
    context = ssl_context or ssl.create_default_context()
    if proxy:
        connection, request_target = _proxy_connection(
            target, proxy, allow_private=allow_private, timeout=timeout, context=context
        )
    else:
        connection = _direct_connection(target, allow_private=allow_private, timeout=timeout, context=context)
        request_target = target.path
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, secret, timestamp=int(time.time() if now is None else now)),
        "User-Agent": USER_AGENT,
    }
    try:
        connection.request("POST", request_target, body=body, headers=headers)
        with connection.getresponse() as response:
            status = response.status
    except (http.client.HTTPException, OSError) as exc:  # includes timeouts and TLS errors
        raise WebhookFailed(f"webhook unreachable: {type(exc).__name__}") from exc
    finally:
        connection.close()
    if 300 <= status < 400:
        raise WebhookRefused(f"webhook answered a redirect ({status}); redirects are not followed")
    if not 200 <= status < 300:
        raise WebhookFailed(f"webhook answered {status}")
    return status
