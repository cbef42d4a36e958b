"""Fixtures for driving the unmodified `datacollective` SDK against a live server.

The live server runs our Django app in a thread of the test process, so the settings that
tests/conftest.py points at moto apply to it, and Django signals sent while it serves a request
reach receivers connected here."""

import re
from dataclasses import dataclass, field

import pytest
from django.core.signals import request_started


@dataclass
class Mdc:
    """The SDK's environment: where the API is and which key it sends."""

    url: str
    monkeypatch: pytest.MonkeyPatch

    def use_key(self, secret: str) -> None:
        self.monkeypatch.setenv("MDC_API_KEY", secret)


@pytest.fixture
def mdc(live_server, monkeypatch, tmp_path) -> Mdc:
    url = live_server.url + "/api"
    monkeypatch.setenv("MDC_API_URL", url)
    monkeypatch.delenv("MDC_API_KEY", raising=False)
    # Keep the SDK's defaults (download dir, log file) out of the developer's home.
    monkeypatch.setenv("MDC_DOWNLOAD_PATH", str(tmp_path / "downloads"))
    monkeypatch.setenv("MDC_LOG_PATH", str(tmp_path / "mdc.log"))
    return Mdc(url=url, monkeypatch=monkeypatch)


PART_URL = re.compile(
    r"^/api/(?:uploads|submissions/[^/]+/sample)/(?P<upload>[^/]+)/parts/(?P<part>\d+)$"
)


@dataclass
class ApiCalls:
    """Every request the live server received, as (method, path), in arrival order."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, sender, environ=None, **kwargs):
        if environ is not None:
            self.calls.append((environ["REQUEST_METHOD"], environ["PATH_INFO"]))

    def clear(self) -> None:
        self.calls.clear()

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p in self.calls if m == method and p == path)

    def part_requests(self, upload_id: str | None = None) -> list[int]:
        """Part numbers of the U2/S2 (part URL) requests, optionally for one upload."""
        parts = []
        for method, path in self.calls:
            match = PART_URL.match(path)
            if method == "GET" and match and upload_id in (None, match["upload"]):
                parts.append(int(match["part"]))
        return sorted(parts)


@pytest.fixture
def api_calls():
    recorder = ApiCalls()
    request_started.connect(recorder, weak=False)
    yield recorder
    request_started.disconnect(recorder)
