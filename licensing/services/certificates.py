"""License certificates: an Ed25519-signed compact JWS per grant that anyone can verify offline
with our JWKS (`/.well-known/jwks.json`) and a standard JOSE library. Revocation cannot be
inside a signed document, so `certificate_verify` (POST /api/certificates/verify) reports it."""

import hmac
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from licensing.models import Certificate, Grant
from licensing.selectors import license_of_dataset
from licensing.signing import InvalidToken, MalformedToken, jws_sign, jws_verify
from marketplace.models import DatasetVersion
from marketplace.services.errors import ServiceError

CERTIFICATE_TYPE = "datacollective-license-certificate/1"


def _claims(grant: Grant, versions: list[DatasetVersion], certificate_id: str, now) -> dict:
    dataset = grant.dataset
    organization = grant.organization
    license_ = license_of_dataset(dataset)
    claims = {
        "iss": settings.PUBLIC_BASE_URL,
        "sub": grant.public_id,
        "jti": certificate_id,
        "iat": int(now.timestamp()),
        "type": CERTIFICATE_TYPE,
        "grant": {
            "id": grant.public_id,
            "source": grant.source,
            "grantedAt": grant.created_at.isoformat(),
        },
        "buyer": {
            "organizationId": str(organization.pk),
            "slug": organization.slug,
            "name": organization.name,
        },
        "dataset": {
            "id": dataset.public_id,
            "slug": dataset.slug,
            "name": dataset.name,
            "publisher": dataset.organization.name,
            "versions": [
                {
                    "number": v.number,
                    "filename": v.filename,
                    "sha256": v.sha256,
                    "sizeBytes": v.size_bytes,
                }
                for v in versions
            ],
        },
        "license": {
            "id": license_.identifier or None,
            "name": license_.name,
            "url": license_.url or None,
        },
        "termsHash": grant.terms_hash,
        "price": {
            "paidCents": grant.price_paid_cents,
            "currency": grant.currency or None,
        },
        "issuedAt": now.isoformat(),
    }
    if grant.expires_at is not None:
        claims["exp"] = int(grant.expires_at.timestamp())
    return claims


def certificate_issue(*, grant: Grant) -> Certificate:
    """Sign a certificate naming every published version of the grant's dataset."""
    versions = list(DatasetVersion.objects.filter(dataset_id=grant.dataset_id).order_by("number"))
    certificate = Certificate(grant=grant, issued_at=timezone.now())
    claims = _claims(grant, versions, certificate.public_id, certificate.issued_at)
    certificate.token, certificate.kid = jws_sign(claims)
    certificate.claims = claims
    certificate.latest_version_number = versions[-1].number if versions else 0
    certificate.save()
    return certificate


@transaction.atomic
def certificate_current(*, grant: Grant) -> Certificate:
    """The grant's newest certificate; an active grant whose dataset gained a version since
    gets a new one (older certificates stay valid)."""
    # Lock the grant row alone (one certificate per new version even under concurrent GETs).
    grant = (
        Grant.objects.select_for_update(of=("self",))
        .select_related(
            "dataset", "dataset__organization", "dataset__latest_version", "organization"
        )
        .get(pk=grant.pk)
    )
    latest = grant.certificates.order_by("-issued_at", "-pk").first()
    newest_version = grant.dataset.latest_version.number if grant.dataset.latest_version else 0
    if latest is None or (
        grant.status == Grant.Status.ACTIVE and latest.latest_version_number < newest_version
    ):
        latest = certificate_issue(grant=grant)
    return latest


@dataclass
class Verification:
    valid: bool
    reason: str = ""
    kid: str | None = None
    grant: Grant | None = None
    status: str | None = None
    claims: dict = field(default_factory=dict)


def certificate_verify(*, token: str) -> Verification:
    """Valid = signed by one of our published keys, and exactly a certificate we issued (the
    stored token, so a token our key signed with other claims is not genuine) for a grant we
    know. Status is the grant's now: active, revoked or expired. Input that is not a compact
    EdDSA JWS at all is a 400 (`malformed_certificate`), never a server error."""
    try:
        header, claims = jws_verify(token)
    except MalformedToken as exc:
        raise ServiceError(str(exc), code="malformed_certificate") from exc
    except InvalidToken as exc:
        return Verification(valid=False, reason=str(exc))
    certificate = (
        Certificate.objects.select_related("grant")
        .filter(public_id=str(claims.get("jti", "")), grant__public_id=str(claims.get("sub", "")))
        .first()
    )
    if certificate is None:
        return Verification(
            valid=False,
            reason="Signed by our key, but no such certificate was issued here.",
            kid=header["kid"],
            claims=claims,
        )
    if not hmac.compare_digest(certificate.token.encode(), token.strip().encode()) or (
        certificate.claims != claims
    ):
        return Verification(
            valid=False,
            reason="Signed by our key, but it differs from the certificate issued here.",
            kid=header["kid"],
            claims=claims,
        )
    grant = certificate.grant
    return Verification(
        valid=True,
        kid=header["kid"],
        grant=grant,
        status=grant.effective_status(),
        claims=claims,
    )
