"""Wire shapes of the licensing API (camelCase; ids are strings; times ISO-8601)."""

from django.conf import settings
from rest_framework import serializers

from licensing.models import AccessRequest, DownloadSession, Grant, License, TermsAcceptance
from licensing.services.certificates import Verification
from licensing.terms import FLAGS, WIRE_FLAGS, Terms, wire_flags
from marketplace.pagination import PageQuerySerializer


def _iso(value):
    return value.isoformat() if value else None


# --- input -------------------------------------------------------------------------------------


class FlagQuerySerializer(serializers.Serializer):
    commercialUse = serializers.BooleanField(required=False, allow_null=True, default=None)
    derivatives = serializers.BooleanField(required=False, allow_null=True, default=None)
    modelTraining = serializers.BooleanField(required=False, allow_null=True, default=None)
    shareAlike = serializers.BooleanField(required=False, allow_null=True, default=None)
    attribution = serializers.BooleanField(required=False, allow_null=True, default=None)

    def flags(self) -> dict[str, bool]:
        return {
            name: self.validated_data[WIRE_FLAGS[name]]
            for name in FLAGS
            if self.validated_data.get(WIRE_FLAGS[name]) is not None
        }


class AccessRequestQuerySerializer(PageQuerySerializer):
    direction = serializers.ChoiceField(choices=["sent", "received"], required=False)
    status = serializers.ChoiceField(choices=AccessRequest.Status.values, required=False)


class TermsAcceptSerializer(serializers.Serializer):
    termsHash = serializers.CharField(max_length=64, min_length=64)


class AccessRequestCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    organizationName = serializers.CharField(
        max_length=200,
        required=False,
        help_text="How your organisation names itself to the publisher; defaults to its name here.",
    )
    intendedUse = serializers.CharField(max_length=20_000)


class AccessRequestRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5_000)


class AccessRequestApproveSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5_000, required=False, allow_blank=True)


class CertificateVerifySerializer(serializers.Serializer):
    certificate = serializers.CharField(max_length=100_000)


# --- output ------------------------------------------------------------------------------------


def license_wire(row: License) -> dict:
    return {
        "id": row.identifier,
        "name": row.name,
        "url": row.url or None,
        "custom": row.organization_id is not None,
        "text": row.text or None,
        "notes": row.notes or None,
        "reviewed": row.reviewed,
        "flags": wire_flags({name: getattr(row, name) for name in FLAGS}),
    }


def terms_wire(terms: Terms, *, acceptance: TermsAcceptance | None, dataset) -> dict:
    license_ = terms.license
    return {
        "datasetId": terms.dataset_id,
        "termsHash": terms.hash,
        "text": terms.text,
        "license": {
            "id": license_.identifier or None,
            "name": license_.name,
            "url": license_.url or None,
            "custom": license_.custom,
            "flags": wire_flags(license_.flags),
        },
        "flags": wire_flags(terms.flags),
        "narrowedByDatasheet": [WIRE_FLAGS[name] for name in terms.narrowed],
        "restrictions": terms.restrictions or None,
        "forbiddenUsage": terms.forbidden_usage or None,
        "additionalConditions": terms.additional_conditions or None,
        "accepted": acceptance is not None,
        "acceptedAt": _iso(acceptance.accepted_at) if acceptance else None,
        "webUrl": f"{settings.PUBLIC_BASE_URL}/datasets/{dataset.public_id}/terms",
    }


def acceptance_wire(acceptance: TermsAcceptance) -> dict:
    return {
        "id": acceptance.public_id,
        "datasetId": acceptance.dataset.public_id,
        "termsHash": acceptance.terms_hash,
        "organization": {
            "id": str(acceptance.organization_id),
            "name": acceptance.organization.name,
            "slug": acceptance.organization.slug,
        },
        "userId": str(acceptance.user_id),
        "apiKeyId": str(acceptance.api_key_id) if acceptance.api_key_id else None,
        "via": acceptance.via,
        "ip": acceptance.ip,
        "acceptedAt": _iso(acceptance.accepted_at),
    }


def access_request_wire(request: AccessRequest, *, organization) -> dict:
    dataset = request.dataset
    received = dataset.organization_id == organization.pk
    return {
        "id": request.public_id,
        "direction": "received" if received else "sent",
        "dataset": {"id": dataset.public_id, "slug": dataset.slug, "name": dataset.name},
        "requester": {
            "organizationId": str(request.organization_id),
            "organizationSlug": request.organization.slug,
            "name": request.name,
            "organizationName": request.organization_name,
        },
        "intendedUse": request.intended_use,
        "status": request.status,
        "autoApproved": request.auto_approved,
        "reason": request.reason or None,
        "decidedAt": _iso(request.decided_at),
        "requestedAt": _iso(request.requested_at),
        "createdAt": _iso(request.created_at),
        "updatedAt": _iso(request.updated_at),
    }


def grant_wire(grant: Grant) -> dict:
    dataset = grant.dataset
    return {
        "id": grant.public_id,
        "organizationId": str(grant.organization_id),
        "dataset": {"id": dataset.public_id, "slug": dataset.slug, "name": dataset.name},
        "status": grant.effective_status(),
        "source": grant.source,
        "termsHash": grant.terms_hash,
        "orderId": grant.order_ref or None,
        "pricePaidCents": grant.price_paid_cents,
        "currency": grant.currency or None,
        "createdAt": _iso(grant.created_at),
        "expiresAt": _iso(grant.expires_at),
        "revokedAt": _iso(grant.revoked_at),
        "revokeReason": grant.revoke_reason or None,
        "certificateUrl": (f"{settings.PUBLIC_BASE_URL}/api/grants/{grant.public_id}/certificate"),
    }


def certificate_wire(certificate) -> dict:
    return {
        "id": certificate.public_id,
        "grantId": certificate.grant.public_id,
        "certificate": certificate.token,
        "kid": certificate.kid,
        "alg": "EdDSA",
        "issuedAt": _iso(certificate.issued_at),
        "claims": certificate.claims,
        "jwksUrl": f"{settings.PUBLIC_BASE_URL}/.well-known/jwks.json",
    }


def verification_wire(result: Verification) -> dict:
    grant = result.grant
    return {
        "valid": result.valid,
        "reason": result.reason or None,
        "kid": result.kid,
        "grantId": grant.public_id if grant else None,
        "status": result.status,
        "active": bool(result.valid and result.status == Grant.Status.ACTIVE),
        "revoked": bool(result.valid and result.status == Grant.Status.REVOKED),
        "revokedAt": _iso(grant.revoked_at) if grant else None,
        "claims": result.claims or None,
    }


def download_wire(session: DownloadSession) -> dict:
    return {
        "id": session.public_id,
        "kind": session.kind,
        "basis": session.basis,
        "organization": {
            "id": str(session.organization_id),
            "name": session.organization.name,
            "slug": session.organization.slug,
        },
        "user": {"id": str(session.user_id), "username": session.user.get_username()},
        "version": session.version.number,
        "filename": session.version.filename
        if session.kind == DownloadSession.Kind.DATASET
        else session.version.sample_filename,
        "sourceFunction": session.source_function or None,
        "userAgent": session.user_agent or None,
        "createdAt": _iso(session.created_at),
    }
