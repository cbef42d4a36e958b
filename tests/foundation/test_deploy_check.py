"""Production settings pass Django's deployment checklist with zero warnings, and refuse to start
without a secret key. Both run `manage.py` in a fresh process: production settings are read once
at import time, so they cannot be exercised inside this (test-settings) process."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def _ed25519_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def production_env(**overrides: str | None) -> dict[str, str]:
    """A production-like environment built from scratch (not inherited), so a developer's shell
    (DJANGO_DEBUG=1, SECURE_SSL_REDIRECT=false, ...) cannot change the outcome. A None value
    leaves the variable unset."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(ROOT)),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        # Fresh per run, long and random, like a real one (security.W009 checks its shape).
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "data.example.com",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://data.example.com",
        "PUBLIC_BASE_URL": "https://data.example.com",
        # `check --deploy` never connects: this database does not have to exist.
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/datacollective_test_deploy",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "AWS_STORAGE_BUCKET_NAME": "datacollective-deploy-check",
        "STRIPE_SECRET_KEY": "sk_test_" + secrets.token_hex(12),
        "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(16),
        "LICENSE_SIGNING_KEYS": _ed25519_pem(),
        # Required in production (malware scan); never connected to by `check --deploy`.
        "CLAMD_URL": "tcp://clamd.internal:3310",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_" + secrets.token_hex(12),
    }
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_check_deploy_reports_no_issues():
    # drf-spectacular generates the whole schema as a deploy check: a schema warning anywhere in
    # the API fails this test too, which is intended.
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output, output


def dotenv_defines(name: str) -> bool:
    dotenv = ROOT / ".env"
    if not dotenv.exists():
        return False
    pattern = re.compile(rf"^\s*(export\s+)?{re.escape(name)}\s*=", re.MULTILINE)
    return bool(pattern.search(dotenv.read_text()))


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_production_refuses_to_start_without_secret_key(value):
    if value is None and dotenv_defines("DJANGO_SECRET_KEY"):
        pytest.skip("a developer .env beside manage.py defines DJANGO_SECRET_KEY")
    result = manage("check", env=production_env(DJANGO_SECRET_KEY=value))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "ImproperlyConfigured" in output, output
    assert "DJANGO_SECRET_KEY" in output, output


@pytest.mark.parametrize("value", [None, "", "pk_test_datacollective_local", "sk_test_wrong"])
def test_production_refuses_a_missing_or_development_publishable_key(value):
    result = manage("check", env=production_env(STRIPE_PUBLISHABLE_KEY=value))
    assert result.returncode != 0
    assert "STRIPE_PUBLISHABLE_KEY" in result.stderr


def test_the_image_build_step_sets_every_variable_production_requires():
    """deploy/Dockerfile runs collectstatic with production settings and placeholder values:
    each variable production.py requires must be among them (a new required setting would
    otherwise break the image build, which CI does not run)."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    step = dockerfile[: dockerfile.index("manage.py collectstatic")]
    step = step[step.rindex("RUN ") :]
    assignments = dict(re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", step))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(ROOT)),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        **{name: value.strip('"') for name, value in assignments.items()},
    }
    # The step generates a throw-away signing key with a shell command substitution.
    assert env.get("LICENSE_SIGNING_KEYS", "").startswith("$(")
    env["LICENSE_SIGNING_KEYS"] = _ed25519_pem()
    result = manage("check", env=env)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_image_carries_every_local_package_the_settings_load():
    """The runtime image copies the source package by package: each of our packages named in
    INSTALLED_APPS, MIDDLEWARE or the URL/Celery config must be copied (and byte-compiled), or the
    image fails at start-up (CI builds no image)."""
    from django.conf import settings

    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    dotted = [*settings.INSTALLED_APPS, *settings.MIDDLEWARE, settings.ROOT_URLCONF]
    local = {name.split(".")[0] for name in dotted if (ROOT / name.split(".")[0]).is_dir()}
    assert {"config", "marketplace", "web"} <= local
    compile_line = next(line for line in dockerfile.splitlines() if "compileall" in line)
    for package in sorted(local):
        assert f"COPY {package} ./{package}" in dockerfile, package
        assert f" {package}" in compile_line, package
