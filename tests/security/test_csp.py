"""Every web page carries the Content-Security-Policy and the other security headers; none of
our templates has an inline script or style (security finding 12)."""

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.factories import make_user
from tests.parties import party

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [
    ROOT / app / "templates"
    for app in ("web", "contributors", "licensing", "marketplace", "payouts")
]


def _directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def _named_web_paths() -> list[str]:
    """Every named, parameterless page outside the API, the webhooks and static files."""
    paths = []

    def walk(patterns, prefix=""):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and entry.name and "<" not in route:
                if "(?P" in route or route.startswith(("api/", "webhooks/", "^")):
                    continue
                paths.append("/" + route.lstrip("^").rstrip("$"))

    walk(get_resolver().url_patterns)
    return sorted(set(paths))


def _assert_headers(response, path):
    csp = response.get("Content-Security-Policy")
    assert csp, f"no CSP on {path} ({response.status_code})"
    d = _directives(csp)
    assert d["default-src"] == ["'self'"], (path, csp)
    for directive in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in d[directive] and "'unsafe-eval'" not in d[directive]
    assert d["frame-ancestors"] == ["'none'"] and d["object-src"] == ["'none'"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] in ("strict-origin-when-cross-origin", "same-origin")
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_every_named_web_page_has_the_policy_and_headers():
    provider = party(uploads=True)
    paths = _named_web_paths()
    assert "/" in paths and "/accounts/login/" in paths and "/organization" in paths
    for client in (Client(), _signed_in(provider.user)):
        for path in paths:
            response = client.get(path)
            _assert_headers(response, path)


def _signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_error_pages_and_the_admin_have_it_too():
    _assert_headers(Client().get("/no-such-page"), "/no-such-page")
    staff = Client()
    staff.force_login(make_user(is_staff=True, is_superuser=True))
    _assert_headers(staff.get("/admin/"), "/admin/")


def test_stripe_js_and_storage_origins_come_from_settings(settings):
    settings.STRIPE_JS_URL = "https://js.stripe.com/v3/"
    settings.AWS_S3_ENDPOINT_URL = "https://objects.example.net:9000"
    d = _directives(Client().get("/")["Content-Security-Policy"])
    assert "https://js.stripe.com" in d["script-src"] and "https://js.stripe.com" in d["frame-src"]
    assert "https://objects.example.net:9000" in d["connect-src"]
    assert not any("stripe" in s for s in d["connect-src"] + d["img-src"] + d["style-src"])


def test_production_allows_stripe_js_only_from_stripe():
    import subprocess
    import sys

    from tests.foundation.test_deploy_check import production_env

    code = (
        "import django; django.setup();"
        "from django.conf import settings; print(settings.STRIPE_JS_URL)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "https://js.stripe.com/v3/"


# A `<script type="application/ld+json">` data block (the dataset page's Croissant) is never
# executed, so it is not inline script; any other script without `src` is.
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/ld\+json\")[^>]*>"
    r"|<style\b|\sstyle=|\son[a-z]+=|hx-on|javascript:",
    re.I,
)


def test_no_template_has_inline_script_or_style():
    offenders = []
    for folder in TEMPLATE_DIRS:
        for template in folder.rglob("*.html"):
            for n, line in enumerate(template.read_text().splitlines(), 1):
                if INLINE.search(line):
                    offenders.append(f"{template.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
