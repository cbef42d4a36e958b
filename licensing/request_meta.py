"""What a request tells about its sender: client IP and the SDK's download source function."""

import ipaddress
import re

from django.conf import settings

# The SDK appends ` source function: <fn>` to its User-Agent on download requests.
_SOURCE = re.compile(r"\s*source function:\s*(?P<fn>[A-Za-z0-9_.-]{1,64})\s*$")


def client_ip(request) -> str | None:
    """REMOTE_ADDR, or, behind `TRUSTED_PROXY_HOPS` reverse proxies that each append to
    X-Forwarded-For, the address the outermost trusted proxy saw (never a client-supplied
    value)."""
    hops = settings.TRUSTED_PROXY_HOPS
    candidate = request.META.get("REMOTE_ADDR", "")
    if hops > 0:
        forwarded = [
            p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()
        ]
        if len(forwarded) >= hops:
            candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def user_agent(request) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:500]


def source_function(agent: str) -> str:
    match = _SOURCE.search(agent or "")
    return match["fn"] if match else ""
