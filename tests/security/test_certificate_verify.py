"""POST /api/certificates/verify never answers 500 to bad input, compares with the certificate
we stored, and production refuses to start without real signing keys or with a development
secret (security finding 10, dynamic finding 3's unhashable `kid`)."""

import base64
import json

import pytest

from licensing.models import Grant
from licensing.selectors import dataset_terms
from licensing.services.grants import grant_issue
from licensing.signing import ALG, jws_sign, signing_key
from tests.assertions import assert_error
from tests.catalogue_helpers import api
from tests.foundation.test_deploy_check import manage, production_env
from tests.licensing.conftest import publish

pytestmark = [pytest.mark.filterwarnings("ignore:EdDSA is deprecated:UserWarning")]


def _b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _verify(token):
    return api().post("/api/certificates/verify", {"certificate": token}, format="json")


def _token_with_header(header) -> str:
    return f"{_b64(header)}.{_b64({'sub': 'x'})}.{_b64(b'sig')}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        {"alg": ALG, "kid": ["a", "list"]},
        {"alg": ALG, "kid": {"an": "object"}},
        {"alg": ALG, "kid": 42},
        {"alg": ALG, "kid": None},
        {"alg": ALG},
        {"alg": "HS256", "kid": "k"},
        {"alg": ["EdDSA"], "kid": "k"},
        ["not", "an", "object"],
        7,
    ],
    ids=[
        "kid-list",
        "kid-object",
        "kid-number",
        "kid-null",
        "no-kid",
        "hs256",
        "alg-list",
        "header-list",
        "header-number",
    ],
)
def test_malformed_headers_are_400_not_500(header):
    signing_key()  # a published key exists, so lookups by kid really run
    assert_error(_verify(_token_with_header(header)), 400, "malformed_certificate")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "token",
    [
        "a.b",
        "!!!.###.$$$",
        f"{_b64(b'{not json')}.e30.c2ln",
        _b64(bytes([0xFF, 0xFE])) + ".e30.c2ln",
        "[" * 5000 + ".e30.c2ln",
        f"{_b64('[' * 2000 + ']' * 2000)}.e30.c2ln",
        f"{_b64({'alg': ALG, 'kid': 'k'})}.@@@.c2ln",
    ],
    ids=[
        "two-parts",
        "not-base64",
        "header-not-json",
        "header-not-utf8",
        "huge-header",
        "deeply-nested-header",
        "bad-payload-encoding",
    ],
)
def test_bad_encodings_are_400(token):
    assert_error(_verify(token), 400)


@pytest.mark.django_db
def test_huge_input_is_400():
    assert_error(_verify("a" * 200_000 + ".b.c"), 400)
    assert_error(
        api().post("/api/certificates/verify", {"certificate": ["a", "b"]}, format="json"), 400
    )


@pytest.mark.django_db
def test_a_token_our_key_signed_with_other_claims_is_not_genuine(provider, buyer):
    dataset = publish(provider, "Verified speech")
    grant = grant_issue(
        organization=buyer.org,
        dataset=dataset,
        terms_hash=dataset_terms(dataset).hash,
        actor=buyer.user,
        source=Grant.Source.PURCHASE,
    )
    token = buyer.client.get(f"/api/grants/{grant.public_id}/certificate").json()["certificate"]
    genuine = _verify(token).json()
    assert genuine["valid"] is True and genuine["active"] is True

    # Same certificate id and grant, our key, but a different buyer: a signed forgery (e.g. from
    # a leaked or misused signing key) must not verify against our records.
    claims = genuine["claims"]
    claims["buyer"] = {**claims["buyer"], "name": "Somebody Else Ltd"}
    forged, _kid = jws_sign(claims)
    verdict = _verify(forged)
    assert verdict.status_code == 200
    body = verdict.json()
    assert body["valid"] is False and body["active"] is False
    assert "differs" in body["reason"]


def _starts(**overrides) -> tuple[bool, str]:
    result = manage("check", env=production_env(**overrides))
    return result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_empty_signing_keys():
    ok, output = _starts(LICENSE_SIGNING_KEYS="")
    assert not ok and "LICENSE_SIGNING_KEYS" in output, output
    ok, output = _starts(LICENSE_SIGNING_KEYS="   ")
    assert not ok and "LICENSE_SIGNING_KEYS" in output, output


@pytest.mark.parametrize(
    "name,value",
    [
        ("DJANGO_SECRET_KEY", "dev-insecure-secret-key-change-me"),
        ("STRIPE_SECRET_KEY", "sk_test_datacollective_local"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_datacollective_local"),
        ("STRIPE_WEBHOOK_SECRET", ""),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ],
)
def test_production_refuses_development_secrets(name, value):
    ok, output = _starts(**{name: value})
    assert not ok, output
    assert "ImproperlyConfigured" in output and name in output, output


def test_production_starts_with_real_secrets():
    ok, output = _starts()
    assert ok, output
