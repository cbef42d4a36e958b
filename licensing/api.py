"""Licensing API: licenses, dataset terms, access requests, grants and certificates, and the
MDC download sessions (E4, E6). Thin: parse, call one service or selector, render."""

from django.http import JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing import serializers as wire
from licensing.compliance import training_data_summary
from licensing.models import DownloadSession, TermsAcceptance
from licensing.request_meta import client_ip, user_agent
from licensing.selectors import (
    access_request_visible,
    access_requests_visible,
    dataset_get,
    dataset_of_owner,
    dataset_terms,
    downloads_of_dataset,
    grant_of_organization,
    grants_of_organization,
    licenses_list,
    private_check,
    terms_acceptance_latest,
)
from licensing.services.access_requests import access_request_create, access_request_decide
from licensing.services.certificates import certificate_current, certificate_verify
from licensing.services.downloads import download_session_start
from licensing.services.terms import terms_accept
from marketplace.pagination import PageQuerySerializer, page_args, page_schema, paginate

OBJ = OpenApiTypes.OBJECT
NOT_FOUND = OpenApiResponse(description="Unknown, or another organisation's (never 403).")


def _paged(query: dict, rows, render) -> dict:
    """One page of `rows` as the API's page body (marketplace.pagination)."""
    return paginate(rows, **page_args(query)).body(render)


# --- licenses and terms --------------------------------------------------------------------


class LicenseListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[wire.FlagQuerySerializer],
        responses=OBJ,
        summary="Licenses with their flags; filter by flag",
        description=(
            "The catalogue licenses and the custom licenses of listed datasets. Each flag given "
            "(`commercialUse`, `derivatives`, `modelTraining`, `shareAlike`, `attribution`; "
            "`true`/`false`) must match. `ids` lists the identifiers, to pass as repeated "
            "`license=` to `GET /api/datasets`. A datasheet can narrow a license's flags "
            "(never widen them): check the dataset's own `flags` in `GET "
            "/api/datasets/{id}/terms`."
        ),
        operation_id="licenses_list",
    )
    def get(self, request):
        params = wire.FlagQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        rows = list(licenses_list(flags=params.flags()))
        ids = list(dict.fromkeys(r.identifier for r in rows))
        return Response(
            {"items": [wire.license_wire(r) for r in rows], "ids": ids, "total": len(rows)}
        )


class DatasetTermsApi(APIView):
    def get_permissions(self):
        if self.request.method == "GET":
            return [AllowAny()]
        return [IsAuthenticated()]

    @extend_schema(
        responses={200: OBJ, 404: NOT_FOUND},
        summary="A dataset's terms: text, flags and hash",
        description=(
            "License + restrictions + forbidden usage + additional conditions, additive; the "
            "stricter wins where they conflict; the datasheet can only narrow the license's "
            "flags. With a key, `accepted` says whether your organisation accepted this exact "
            "version."
        ),
        operation_id="dataset_terms_get",
    )
    def get(self, request, id_or_slug: str):
        organization = request.auth.organization if request.auth is not None else None
        dataset = dataset_get(id_or_slug=id_or_slug, organization=organization)
        private_check(dataset=dataset, organization=organization)
        terms = dataset_terms(dataset)
        acceptance = (
            terms_acceptance_latest(
                organization=organization, dataset=dataset, terms_hash=terms.hash
            )
            if organization is not None
            else None
        )
        return Response(wire.terms_wire(terms, acceptance=acceptance, dataset=dataset))

    @extend_schema(
        request=wire.TermsAcceptSerializer,
        responses={
            201: OBJ,
            409: OpenApiResponse(description="Stale hash; body names the current"),
        },
        summary="Accept exactly this version of the terms",
        operation_id="dataset_terms_accept",
    )
    def post(self, request, id_or_slug: str):
        body = wire.TermsAcceptSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        dataset = dataset_get(id_or_slug=id_or_slug, organization=request.auth.organization)
        acceptance = terms_accept(
            actor=request.auth,
            dataset=dataset,
            terms_hash=body.validated_data["termsHash"],
            via=TermsAcceptance.Via.API,
            ip=client_ip(request),
            user_agent=user_agent(request),
        )
        return Response(wire.acceptance_wire(acceptance), status=status.HTTP_201_CREATED)


# --- access requests ---------------------------------------------------------------------------


class DatasetAccessRequestApi(APIView):
    @extend_schema(
        request=wire.AccessRequestCreateSerializer,
        responses={201: OBJ, 200: OBJ},
        summary="Ask for access to a restricted dataset",
        description=(
            "201 for a new request, 200 when your organisation already has one (pending: "
            "details updated; rejected: reopened; approved: unchanged). Approved at once when "
            "the publisher set autoApproveAccessRequests."
        ),
        operation_id="access_requests_create",
    )
    def post(self, request, id_or_slug: str):
        body = wire.AccessRequestCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        actor = request.auth
        dataset = dataset_get(id_or_slug=id_or_slug, organization=actor.organization)
        access_request, created = access_request_create(
            actor=actor,
            dataset=dataset,
            name=body.validated_data["name"],
            organization_name=body.validated_data.get("organizationName", actor.organization.name),
            intended_use=body.validated_data["intendedUse"],
        )
        return Response(
            wire.access_request_wire(access_request, organization=actor.organization),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class AccessRequestListApi(APIView):
    @extend_schema(
        parameters=[wire.AccessRequestQuerySerializer],
        responses=page_schema("AccessRequestPage"),
        summary="Access requests your organisation sent and received",
        operation_id="access_requests_list",
    )
    def get(self, request):
        params = wire.AccessRequestQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        organization = request.auth.organization
        qs = access_requests_visible(
            organization=organization, direction=params.validated_data.get("direction")
        )
        if params.validated_data.get("status"):
            qs = qs.filter(status=params.validated_data["status"])
        return Response(
            _paged(
                params.validated_data,
                qs,
                lambda r: wire.access_request_wire(r, organization=organization),
            )
        )


class AccessRequestDetailApi(APIView):
    @extend_schema(
        responses={200: OBJ, 404: NOT_FOUND},
        summary="One access request (requester or publisher)",
        operation_id="access_requests_detail",
    )
    def get(self, request, request_id: str):
        organization = request.auth.organization
        found = access_request_visible(organization=organization, request_id=request_id)
        return Response(wire.access_request_wire(found, organization=organization))


class _Decide(APIView):
    approve = True
    body_class = wire.AccessRequestApproveSerializer

    def post(self, request, request_id: str):
        body = self.body_class(data=request.data)
        body.is_valid(raise_exception=True)
        organization = request.auth.organization
        found = access_request_visible(organization=organization, request_id=request_id)
        decided = access_request_decide(
            actor=request.auth,
            access_request=found,
            approve=self.approve,
            reason=body.validated_data.get("reason", ""),
        )
        return Response(wire.access_request_wire(decided, organization=organization))


class AccessRequestApproveApi(_Decide):
    @extend_schema(
        request=wire.AccessRequestApproveSerializer,
        responses={200: OBJ, 403: OBJ, 404: NOT_FOUND},
        summary="Approve (publisher only; may reverse a rejection)",
        operation_id="access_requests_approve",
    )
    def post(self, request, request_id: str):
        return super().post(request, request_id)


class AccessRequestRejectApi(_Decide):
    approve = False
    body_class = wire.AccessRequestRejectSerializer

    @extend_schema(
        request=wire.AccessRequestRejectSerializer,
        responses={200: OBJ, 403: OBJ, 404: NOT_FOUND},
        summary="Reject with a reason (publisher only; may reverse an approval)",
        operation_id="access_requests_reject",
    )
    def post(self, request, request_id: str):
        return super().post(request, request_id)


# --- grants and certificates -------------------------------------------------------------------


class GrantListApi(APIView):
    @extend_schema(
        parameters=[PageQuerySerializer],
        responses=page_schema("GrantPage"),
        summary="Your organisation's grants",
        operation_id="grants_list",
    )
    def get(self, request):
        params = PageQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        qs = grants_of_organization(organization=request.auth.organization)
        return Response(_paged(params.validated_data, qs, wire.grant_wire))


class GrantDetailApi(APIView):
    @extend_schema(
        responses={200: OBJ, 404: NOT_FOUND},
        summary="One of your organisation's grants",
        operation_id="grants_detail",
    )
    def get(self, request, grant_id: str):
        grant = grant_of_organization(organization=request.auth.organization, grant_id=grant_id)
        return Response(wire.grant_wire(grant))


class GrantCertificateApi(APIView):
    @extend_schema(
        responses={200: OBJ, 404: NOT_FOUND},
        summary="The grant's signed license certificate (compact JWS, EdDSA)",
        description=(
            "Verifiable offline with the keys at /.well-known/jwks.json and any JOSE library. "
            "Revocation is reported by POST /api/certificates/verify."
        ),
        operation_id="grants_certificate",
    )
    def get(self, request, grant_id: str):
        grant = grant_of_organization(organization=request.auth.organization, grant_id=grant_id)
        return Response(wire.certificate_wire(certificate_current(grant=grant)))


class CertificateVerifyApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        request=wire.CertificateVerifySerializer,
        responses=OBJ,
        summary="Verify a license certificate and report its grant's status",
        description=(
            "`valid`: signed by one of our keys and issued here; `status`: the grant now "
            "(active, revoked, expired); `revoked` true once the grant is revoked."
        ),
        operation_id="certificates_verify",
    )
    def post(self, request):
        body = wire.CertificateVerifySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = certificate_verify(token=body.validated_data["certificate"])
        return Response(wire.verification_wire(result))


# --- downloads (MDC E4, E6) --------------------------------------------------------------------


class _DownloadStart(APIView):
    """E4/E6. The body is a plain JsonResponse: the shape is fixed, so DRF's content
    negotiation and renderer would only cost time on the busiest endpoint."""

    kind = DownloadSession.Kind.DATASET

    def _start(self, request, id_or_slug: str) -> dict:
        offer = download_session_start(
            actor=request.auth,
            id_or_slug=id_or_slug,
            kind=self.kind,
            user_agent=user_agent(request),
            ip=client_ip(request),
        )
        body = {
            "downloadUrl": offer.url,
            "sizeBytes": offer.size_bytes,
            "filename": offer.filename,
            "expiresAt": offer.session.expires_at.isoformat(),
            "sessionId": offer.session.public_id,
        }
        if offer.checksum:
            body["checksum"] = offer.checksum
        return body


DOWNLOAD_ERRORS = {
    401: OpenApiResponse(description="Bad or missing API key"),
    402: OpenApiResponse(description="Paid dataset, no active grant for your organisation"),
    403: OpenApiResponse(
        description="Terms not accepted / restricted without approved access / private"
    ),
    404: OpenApiResponse(description="Unknown dataset (E6: or no sample)"),
    410: OpenApiResponse(description="Removed from the platform"),
}


class DatasetDownloadApi(_DownloadStart):
    @extend_schema(
        request=None,
        responses={200: OBJ, **DOWNLOAD_ERRORS},
        summary="E4: a download session (presigned URL, size, SHA-256)",
        operation_id="datasets_download",
    )
    def post(self, request, id_or_slug: str):
        return JsonResponse(self._start(request, id_or_slug))


class DatasetSampleDownloadApi(_DownloadStart):
    kind = DownloadSession.Kind.SAMPLE

    @extend_schema(
        request=None,
        responses={200: OBJ, **DOWNLOAD_ERRORS},
        summary="E6: a sample download session (no purchase needed)",
        operation_id="datasets_sample_download",
    )
    def post(self, request, id_or_slug: str):
        return JsonResponse(self._start(request, id_or_slug))


class DatasetDownloadsApi(APIView):
    @extend_schema(
        parameters=[PageQuerySerializer],
        responses={200: page_schema("DownloadSessionPage"), 404: NOT_FOUND},
        summary="Who downloaded your dataset (download sessions, newest first)",
        operation_id="datasets_downloads",
    )
    def get(self, request, id_or_slug: str):
        params = PageQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        dataset = dataset_of_owner(organization=request.auth.organization, id_or_slug=id_or_slug)
        rows = downloads_of_dataset(dataset=dataset)
        return Response(_paged(params.validated_data, rows, wire.download_wire))


# --- compliance pack -----------------------------------------------------------------------------


class TrainingDataSummaryApi(APIView):
    @extend_schema(
        responses=OBJ,
        summary="EU AI Act training-data summary of your organisation's licensed datasets",
        description=(
            "For each dataset your organisation holds a grant in force for, the section on "
            "licensed non-public data of the public summary of training content (AI Act Art. "
            "53(1)(d)), following the EU AI Office template of July 2025 (named in `template`): "
            "modality, size (bytes, rows, audio hours, from the ingestion statistics), "
            "languages, time span, provider, license ids, terms hashes, certificate ids, the "
            "datasheet's consent statements, withdrawals handled and the Croissant link. "
            "Revoked and expired grants are listed under `excludedGrants`, not summarised. "
            "Shape: licensing/schemas/training_data_summary.schema.json. Printable at "
            "/library/compliance."
        ),
        operation_id="compliance_training_data_summary",
    )
    def get(self, request):
        return Response(training_data_summary(organization=request.auth.organization))
