"""API of deletion manifests (issue 13 §2): the licensee lists, reads and acknowledges the
signed manifests its grants received; the provider records a consent withdrawal on a
contributor's behalf and lists its datasets' withdrawals with each licensee's acknowledgement.
Another organisation's manifest or dataset is 404."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from contributors.models import ConsentWithdrawal
from contributors.selectors import dataset_of_organization
from contributors.services.withdrawals import consent_withdrawal_record
from licensing.models import DeletionManifest
from licensing.services.deletion_manifests import (
    deletion_manifest_acknowledge,
    manifest_of_organization,
    manifests_of_organization,
    provider_withdrawals,
)
from marketplace.pagination import PageQuerySerializer, page_args, page_schema, paginate

NOT_FOUND = OpenApiResponse(description="Unknown, or another organisation's.")


def manifest_wire(manifest: DeletionManifest) -> dict:
    return {
        "id": manifest.public_id,
        "datasetId": manifest.dataset.public_id,
        "datasetName": manifest.dataset.name,
        "grantId": manifest.grant.public_id,
        "deadline": manifest.deadline.isoformat(),
        "createdAt": manifest.created_at.isoformat(),
        "acknowledgedAt": manifest.acknowledged_at.isoformat()
        if manifest.acknowledged_at
        else None,
        "revision": manifest.revision,
        "supersedes": manifest.supersedes.public_id if manifest.supersedes_id else None,
        "supersededBy": _superseded_by(manifest),
        "manifest": manifest.token,
        "kid": manifest.kid,
    }


def _superseded_by(manifest: DeletionManifest) -> str | None:
    try:
        return manifest.superseded_by.public_id
    except DeletionManifest.DoesNotExist:
        return None


class ManifestOutSerializer(serializers.Serializer):
    id = serializers.CharField()
    datasetId = serializers.CharField()
    datasetName = serializers.CharField()
    grantId = serializers.CharField()
    deadline = serializers.DateTimeField()
    createdAt = serializers.DateTimeField()
    acknowledgedAt = serializers.DateTimeField(allow_null=True)
    revision = serializers.IntegerField(
        help_text="1, then one more for each revision the grant received: the withdrawal's "
        "members grew after the first (the provider mapped them later)."
    )
    supersedes = serializers.CharField(
        allow_null=True, help_text="The manifest this revision replaces (null on the first)."
    )
    supersededBy = serializers.CharField(
        allow_null=True,
        help_text="The later revision that replaces this one; only the latest waits for an "
        "acknowledgement.",
    )
    manifest = serializers.CharField(
        help_text="Compact JWS (EdDSA): verify it with /.well-known/jwks.json; its claims name "
        "the dataset, versions, member paths and SHA-256 digests, the grant and the deadline."
    )
    kid = serializers.CharField()


class ManifestQuerySerializer(PageQuerySerializer):
    acknowledged = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="false: only those not acknowledged yet; true: only acknowledged ones.",
    )


class DeletionManifestListApi(APIView):
    @extend_schema(
        parameters=[ManifestQuerySerializer],
        responses=page_schema("DeletionManifestPage", ManifestOutSerializer()),
        operation_id="deletion_manifests_list",
        summary="Signed deletion manifests received by the caller's organisation (licensee)",
    )
    def get(self, request):
        params = ManifestQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        rows = manifests_of_organization(organization=request.auth.organization)
        acknowledged = params.validated_data["acknowledged"]
        if acknowledged is not None:
            rows = rows.filter(acknowledged_at__isnull=not acknowledged)
        page = paginate(rows, **page_args(params.validated_data))
        return Response(page.body(manifest_wire))


class DeletionManifestDetailApi(APIView):
    @extend_schema(responses={200: ManifestOutSerializer, 404: NOT_FOUND}, summary="One manifest")
    def get(self, request, manifest_id: str):
        manifest = manifest_of_organization(
            organization=request.auth.organization, manifest_id=manifest_id
        )
        return Response(manifest_wire(manifest))


class DeletionManifestAcknowledgeApi(APIView):
    @extend_schema(
        request=None,
        responses={200: ManifestOutSerializer, 404: NOT_FOUND},
        summary="Acknowledge a deletion manifest (the members were deleted)",
        description="Once: acknowledging again returns the first acknowledgement unchanged.",
    )
    def post(self, request, manifest_id: str):
        manifest = deletion_manifest_acknowledge(actor=request.auth, manifest_id=manifest_id)
        return Response(manifest_wire(manifest))


def provider_withdrawal_wire(withdrawal: ConsentWithdrawal) -> dict:
    manifests = list(withdrawal.manifests.all())
    replaced = {m.supersedes_id for m in manifests}  # the queryset's `unacknowledged()` rule
    return {
        "id": withdrawal.public_id,
        "datasetId": withdrawal.dataset.public_id,
        "contributorEmail": withdrawal.contributor.email,
        "source": withdrawal.source,
        "reason": withdrawal.reason,
        "withdrawnAt": withdrawal.created_at.isoformat(),
        "deadline": withdrawal.deadline.isoformat(),
        "status": withdrawal.status,
        "overdue": withdrawal.is_overdue,
        "fulfilledAt": withdrawal.fulfilled_at.isoformat() if withdrawal.fulfilled_at else None,
        "members": getattr(withdrawal, "member_count", None),
        "shareTableVersion": withdrawal.share_table.version if withdrawal.share_table else None,
        "manifests": [
            {
                "id": m.public_id,
                "licensee": m.organization.name,
                "grantId": m.grant.public_id,
                "revision": m.revision,
                "acknowledgedAt": m.acknowledged_at.isoformat() if m.acknowledged_at else None,
            }
            for m in manifests
        ],
        "unacknowledged": sum(
            1 for m in manifests if m.acknowledged_at is None and m.pk not in replaced
        ),
    }


class ProviderManifestSerializer(serializers.Serializer):
    id = serializers.CharField()
    licensee = serializers.CharField()
    grantId = serializers.CharField()
    acknowledgedAt = serializers.DateTimeField(allow_null=True)


class ProviderWithdrawalSerializer(serializers.Serializer):
    id = serializers.CharField()
    datasetId = serializers.CharField()
    contributorEmail = serializers.EmailField()
    source = serializers.ChoiceField(choices=ConsentWithdrawal.Source.values)
    reason = serializers.CharField()
    withdrawnAt = serializers.DateTimeField()
    deadline = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=ConsentWithdrawal.Status.values)
    overdue = serializers.BooleanField()
    fulfilledAt = serializers.DateTimeField(allow_null=True)
    members = serializers.IntegerField()
    shareTableVersion = serializers.IntegerField(allow_null=True)
    manifests = ProviderManifestSerializer(many=True)
    unacknowledged = serializers.IntegerField()


class RecordWithdrawalSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=320, help_text="The contributor's e-mail.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class DatasetConsentWithdrawalsApi(APIView):
    def _dataset(self, request, dataset_id):
        return dataset_of_organization(
            organization=request.auth.organization, dataset_id=dataset_id
        )

    @extend_schema(
        parameters=[PageQuerySerializer],
        responses={
            200: page_schema("ConsentWithdrawalPage", ProviderWithdrawalSerializer()),
            404: NOT_FOUND,
        },
        summary="The dataset's consent withdrawals with each licensee's acknowledgement",
    )
    def get(self, request, dataset_id: str):
        dataset = self._dataset(request, dataset_id)
        params = PageQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = paginate(provider_withdrawals(dataset=dataset), **page_args(params.validated_data))
        return Response(page.body(provider_withdrawal_wire))

    @extend_schema(
        request=RecordWithdrawalSerializer,
        responses={
            201: ProviderWithdrawalSerializer,
            404: NOT_FOUND,
            409: OpenApiResponse(description="Consent for this dataset was already withdrawn."),
            422: OpenApiResponse(description="Not a contributor of the dataset, or bad input."),
        },
        summary="Record a contributor's consent withdrawal on their behalf (owners)",
        description=(
            "The contributor must be named in the dataset's shares or member mapping (422 "
            "not_a_contributor_of_dataset); 409 consent_already_withdrawn."
        ),
    )
    def post(self, request, dataset_id: str):
        dataset = self._dataset(request, dataset_id)
        body = RecordWithdrawalSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        withdrawal = consent_withdrawal_record(
            actor=request.auth,
            dataset=dataset,
            email=body.validated_data["email"],
            reason=body.validated_data["reason"],
        )
        row = provider_withdrawals(dataset=dataset).get(pk=withdrawal.pk)
        return Response(provider_withdrawal_wire(row), status=201)
