"""Grants (issued by the service orders will call) and their signed license certificates:
scoping, revocation, offline verification with only the JWKS and independent JOSE libraries,
tampering, key rotation."""

import base64
import json
import warnings

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from licensing.models import Certificate, Grant, SigningKey
from licensing.selectors import dataset_terms
from licensing.services.grants import grant_issue, grant_revoke, grants_expire
from licensing.signing import configured_keys, thumbprint
from marketplace.models import AuditEvent
from marketplace.services.errors import Invalid
from tests.assertions import assert_error
from tests.catalogue_helpers import api, make_archive, upload_bytes
from tests.licensing.conftest import publish
from tests.parties import party

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:EdDSA is deprecated:UserWarning"),
]


class FakeOrder:
    """What grant_issue reads from an order (orders are built later, in part B)."""

    def __init__(self, public_id, total_price_cents, currency="usd"):
        self.public_id = public_id
        self.pk = 1
        self.total_price_cents = total_price_cents
        self.currency = currency


@pytest.fixture
def paid(provider):
    return publish(provider, "Paid speech", isPaid=True, basePriceCents=2_000)


def issue(buyer, dataset, **kwargs):
    kwargs.setdefault("source", Grant.Source.PURCHASE)
    return grant_issue(
        organization=buyer.org,
        dataset=dataset,
        terms_hash=dataset_terms(dataset).hash,
        actor=buyer.user,
        **kwargs,
    )


def jwks_document(settings) -> dict:
    settings.ROOT_URLCONF = "tests.licensing.urls"
    response = Client().get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/jwk-set+json")
    return response.json()


# --- grants ------------------------------------------------------------------------------------


def test_grant_issue_is_idempotent_per_order_and_audited(buyer, paid):
    order = FakeOrder("ord_123", 2_100)
    first = issue(buyer, paid, order=order)
    again = issue(buyer, paid, order=order)
    assert again.pk == first.pk and Grant.objects.count() == 1
    assert first.order_ref == "ord_123"
    assert (first.price_paid_cents, first.currency, first.status) == (2_100, "usd", "active")
    assert first.certificates.count() == 1
    assert AuditEvent.objects.filter(action="grant.issue").count() == 1

    free = issue(buyer, paid, source=Grant.Source.STAFF)
    assert free.price_paid_cents is None and free.currency == ""


def test_grant_issue_validates(provider, buyer, paid):
    with pytest.raises(Invalid):
        issue(buyer, paid, source="gift")
    with pytest.raises(Invalid):
        grant_issue(
            organization=buyer.org,
            dataset=paid,
            terms_hash="0" * 64,
            source="purchase",
            actor=None,
        )
    with pytest.raises(Invalid):
        issue(provider, paid)  # the publisher needs no grant
    assert not Grant.objects.exists()


def test_grants_list_and_detail_are_scoped(buyer, outsider, paid):
    grant = issue(buyer, paid, order=FakeOrder("ord_1", 2_100))
    body = buyer.client.get("/api/grants").json()
    assert body["total"] == 1
    item = body["items"][0]
    assert item["id"] == grant.public_id and item["status"] == "active"
    assert item["dataset"]["id"] == paid.public_id
    assert item["termsHash"] == grant.terms_hash and item["pricePaidCents"] == 2_100
    assert buyer.client.get(f"/api/grants/{grant.public_id}").json() == item

    assert outsider.client.get("/api/grants").json()["total"] == 0
    assert_error(outsider.client.get(f"/api/grants/{grant.public_id}"), 404)
    assert_error(outsider.client.get(f"/api/grants/{grant.public_id}/certificate"), 404)
    assert_error(api().get("/api/grants"), 401)


def test_grants_list_query_count_is_constant(buyer, paid):
    def measure():
        with CaptureQueriesContext(connection) as queries:
            body = buyer.client.get("/api/grants", {"limit": 100}).json()
        return body, len(queries)

    issue(buyer, paid, source="staff")
    measure()  # warm-up: the key's first use records last_used_at
    one, one_count = measure()
    for _ in range(7):
        issue(buyer, paid, source="staff")
    many, many_count = measure()
    assert (one["total"], many["total"]) == (1, 8)
    assert many_count == one_count <= 3


def test_revoke_and_expire(buyer, paid):
    from datetime import timedelta

    from django.utils import timezone

    grant = issue(buyer, paid)
    grant_revoke(grant=grant, actor=None, reason="Refunded")
    grant_revoke(grant=grant, actor=None, reason="Refunded again")  # idempotent
    grant.refresh_from_db()
    assert grant.status == "revoked" and grant.revoke_reason == "Refunded"
    assert buyer.client.get(f"/api/grants/{grant.public_id}").json()["status"] == "revoked"

    soon = issue(buyer, paid, expires_at=timezone.now() + timedelta(hours=1))
    assert grants_expire() == 0
    Grant.objects.filter(pk=soon.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    # Reported expired before the sweep runs, and stored as such after it.
    assert buyer.client.get(f"/api/grants/{soon.public_id}").json()["status"] == "expired"
    assert grants_expire() == 1
    assert Grant.objects.get(pk=soon.pk).status == "expired"


# --- certificates -----------------------------------------------------------------------------


def test_certificate_verifies_offline_with_only_the_jwks(settings, buyer, paid):
    grant = issue(buyer, paid, order=FakeOrder("ord_9", 2_100))
    response = buyer.client.get(f"/api/grants/{grant.public_id}/certificate")
    assert response.status_code == 200
    cert = response.json()
    token = cert["certificate"]
    keyset = jwks_document(settings)
    assert [k["kid"] for k in keyset["keys"]] == [cert["kid"]]
    assert set(keyset["keys"][0]) == {"kty", "crv", "x", "kid", "use", "alg"}  # no private part

    # joserfc, with nothing but the JWK Set.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verified = jws.deserialize_compact(
            token, KeySet.import_key_set(keyset), algorithms=["EdDSA"]
        )
    claims = json.loads(verified.payload)
    assert verified.protected["kid"] == cert["kid"]
    # PyJWT, an unrelated implementation, with the key picked from the JWKS by kid.
    header = jwt.get_unverified_header(token)
    jwk = next(k for k in keyset["keys"] if k["kid"] == header["kid"])
    key = jwt.PyJWK.from_dict(jwk)
    assert jwt.decode(token, key=key.key, algorithms=["EdDSA"]) == claims

    version = paid.latest_version
    assert claims["sub"] == grant.public_id and claims["grant"]["id"] == grant.public_id
    assert claims["buyer"] == {
        "organizationId": str(buyer.org.pk),
        "slug": buyer.org.slug,
        "name": buyer.org.name,
    }
    assert claims["dataset"]["id"] == paid.public_id
    assert claims["dataset"]["versions"] == [
        {
            "number": 1,
            "filename": version.filename,
            "sha256": version.sha256,
            "sizeBytes": version.size_bytes,
        }
    ]
    assert claims["license"]["id"] == "CC-BY-4.0"
    assert claims["termsHash"] == grant.terms_hash
    assert claims["price"] == {"paidCents": 2_100, "currency": "usd"}
    assert isinstance(claims["iat"], int) and claims["issuedAt"]

    verdict = api().post("/api/certificates/verify", {"certificate": token}, format="json").json()
    assert verdict["valid"] is True and verdict["active"] is True
    assert verdict["revoked"] is False and verdict["status"] == "active"
    assert verdict["grantId"] == grant.public_id


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["price"]["paidCents"] = 1
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_tampered_certificate_fails_everywhere(settings, buyer, paid):
    grant = issue(buyer, paid, order=FakeOrder("ord_7", 2_100))
    token = buyer.client.get(f"/api/grants/{grant.public_id}/certificate").json()["certificate"]
    forged = _tamper(token)
    keyset = KeySet.import_key_set(jwks_document(settings))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(BadSignatureError):
            jws.deserialize_compact(forged, keyset, algorithms=["EdDSA"])
    verdict = api().post("/api/certificates/verify", {"certificate": forged}, format="json").json()
    assert verdict["valid"] is False and "signature" in verdict["reason"]
    assert verdict["revoked"] is False and verdict["grantId"] is None

    # A certificate signed by a key that is not ours.
    outsider_key = Ed25519PrivateKey.generate()
    raw = outsider_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    foreign = jwt.encode(
        {"sub": grant.public_id},
        outsider_key,
        algorithm="EdDSA",
        headers={"kid": thumbprint(raw)},
    )
    verdict = api().post("/api/certificates/verify", {"certificate": foreign}, format="json").json()
    assert verdict["valid"] is False and "unknown key" in verdict["reason"]
    # Not a compact JWS at all: bad input, answered with the error envelope.
    garbage = api().post("/api/certificates/verify", {"certificate": "a.b"}, format="json")
    assert_error(garbage, 400, "malformed_certificate")
    assert_error(api().post("/api/certificates/verify", {}, format="json"), 400)


def test_revoked_grant_certificate_reports_revoked(buyer, paid):
    grant = issue(buyer, paid)
    token = buyer.client.get(f"/api/grants/{grant.public_id}/certificate").json()["certificate"]
    grant_revoke(grant=grant, actor=None, reason="Full refund")
    verdict = api().post("/api/certificates/verify", {"certificate": token}, format="json").json()
    assert verdict["valid"] is True  # still our signature...
    assert verdict["revoked"] is True and verdict["status"] == "revoked"  # ...but revoked
    assert verdict["active"] is False and verdict["revokedAt"]


def test_new_version_gets_a_new_certificate_and_old_ones_stay_valid(provider, buyer, paid):
    grant = issue(buyer, paid)
    first = buyer.client.get(f"/api/grants/{grant.public_id}/certificate").json()
    assert (
        buyer.client.get(f"/api/grants/{grant.public_id}/certificate").json()["id"] == first["id"]
    )

    # The provider publishes version 2 of the same dataset.
    from marketplace.models import Submission
    from marketplace.services.review import submission_approve
    from tests.factories import make_user

    submission = Submission.objects.get(dataset=paid)
    upload_bytes(provider.client, submission.public_id, make_archive(3_000, seed=b"v2"))
    submission.refresh_from_db()
    submission_approve(submission=submission, actor=make_user(is_staff=True))

    second = buyer.client.get(f"/api/grants/{grant.public_id}/certificate").json()
    assert second["id"] != first["id"]
    assert [v["number"] for v in second["claims"]["dataset"]["versions"]] == [1, 2]
    assert Certificate.objects.filter(grant=grant).count() == 2
    for token in (first["certificate"], second["certificate"]):
        verdict = api().post("/api/certificates/verify", {"certificate": token}, format="json")
        assert verdict.json()["valid"] is True


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_configured_keys_sign_and_rotate(settings, buyer, paid):
    # A certificate signed by the development key stored in the database...
    old = issue(buyer, paid)
    old_token = old.certificates.get().token
    stored_kid = SigningKey.objects.get().kid

    # ...then production keys from the environment: one PEM with literal \n (a one-line env
    # value), then a rotation to a JSON list whose first key signs.
    first, second = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    settings.LICENSE_SIGNING_KEYS = _pem(first).replace("\n", "\\n")
    assert len(configured_keys()) == 1
    one = issue(buyer, paid).certificates.get()
    settings.LICENSE_SIGNING_KEYS = json.dumps([_pem(second), _pem(first)])
    two = issue(buyer, paid).certificates.get()
    assert one.kid != two.kid and stored_kid not in (one.kid, two.kid)

    kids = [k["kid"] for k in jwks_document(settings)["keys"]]
    assert kids == [two.kid, one.kid, stored_kid]
    for token in (old_token, one.token, two.token):
        verdict = api().post("/api/certificates/verify", {"certificate": token}, format="json")
        assert verdict.json()["valid"] is True, verdict.json()

    # Without keys, production refuses to invent one.
    from django.core.exceptions import ImproperlyConfigured

    settings.LICENSE_SIGNING_KEYS = ""
    settings.LICENSE_SIGNING_KEY_AUTOGENERATE = False
    SigningKey.objects.update(retired_at="2020-01-01T00:00:00Z")
    with pytest.raises(ImproperlyConfigured):
        issue(buyer, paid)
    party()  # the database is usable after the failed transaction
