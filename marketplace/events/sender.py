"""The SSRF-safe HTTP sender of outbound webhooks.

Only http(s). The host is resolved once and every resolved address must be public (loopback,
link-local, private, reserved, multicast and unspecified addresses are refused unless
WEBHOOKS_ALLOW_LOOPBACK / WEBHOOKS_ALLOW_PRIVATE_NETWORKS say otherwise); the connection then goes
to that very address (no second lookup, so DNS rebinding cannot swap it), with the Host header
and TLS server name of the URL. Redirects are never followed (http.client does not), every socket
operation has a short timeout, and at most WEBHOOKS_RESPONSE_BODY_MAX bytes of a response are read.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from marketplace.services.errors import Invalid


class UnsafeUrl(Invalid):
    code = "unsafe_url"


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


@dataclass(frozen=True)
class Outcome:
    response_code: int | None
    body: str
    error: str
    latency_ms: int

    @property
    def ok(self) -> bool:
        return self.response_code is not None and 200 <= self.response_code < 300


def _address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if getattr(ip, "ipv4_mapped", None):
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return bool(getattr(settings, "WEBHOOKS_ALLOW_LOOPBACK", False))
    if ip.is_private and not (ip.is_link_local or ip.is_multicast or ip.is_unspecified):
        return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_NETWORKS", False))
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


def target_resolve(url: str) -> Target:
    """The URL's one resolved, allowed address; `UnsafeUrl` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("Only http and https URLs with a host can receive events.")
    if parts.username or parts.password:
        raise UnsafeUrl("A webhook URL must not carry credentials.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl("The URL's port is not valid.") from exc
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"The host {parts.hostname!r} does not resolve.") from exc
    addresses = [info[4][0] for info in infos]
    # Every address must be allowed: a name that also resolves to an internal one is refused.
    if not addresses or not all(_address_allowed(a) for a in addresses):
        raise UnsafeUrl(
            f"The host {parts.hostname!r} resolves to a loopback, link-local or private address."
        )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = target.address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST `body` to `url` once; never raises for network trouble (the outcome says it)."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = target_resolve(url)
    except UnsafeUrl as exc:
        return Outcome(None, "", exc.message, elapsed())
    timeout = float(getattr(settings, "WEBHOOKS_TIMEOUT_SECONDS", 5.0))
    limit = int(getattr(settings, "WEBHOOKS_RESPONSE_BODY_MAX", 1024))
    cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    conn = cls(target, timeout)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read(limit).decode("utf-8", "replace")
        return Outcome(response.status, text, "", elapsed())
    except TimeoutError:
        return Outcome(None, "", "timeout", elapsed())
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(None, "", f"{type(exc).__name__}: {exc}"[:500], elapsed())
    finally:
        conn.close()
