"""Who may read /metrics: anyone, unless EXPORTS_METRICS_TOKEN (a bearer token) and/or
EXPORTS_METRICS_ALLOWED_NETWORKS (CIDRs, matched against exportsite.client_ip) are set.
With both, a scraper must be in an allowed network and send the token."""

from __future__ import annotations

import hmac
import ipaddress

from django.http import HttpRequest, JsonResponse

from exports.errors import error_body
from exportsite.client_ip import client_address
from exportsite.conf import export_settings


def _address_allowed(address: str, networks: list) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d
    return any(ip.version == network.version and ip in network for network in networks)


def _bearer_matches(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Constant time: the comparison must not tell how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def metrics_access_denied(*, request: HttpRequest) -> JsonResponse | None:
    """The 403/401 answer for a scraper that may not read /metrics, or None when it may."""
    conf = export_settings()
    if conf.metrics_allowed_networks and not _address_allowed(client_address(request), conf.metrics_allowed_networks):
        return JsonResponse(error_body(403, "Forbidden.", "Metrics are not served to this address."), status=403)
    if conf.metrics_token and not _bearer_matches(request, conf.metrics_token):
        response = JsonResponse(
            error_body(401, "Authentication required.", "Send the metrics token as 'Authorization: Bearer <token>'."),
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return None
