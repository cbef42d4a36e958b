"""Contributors API of consent withdrawal (issue 13 §2): a contributor's own withdrawals and the
provider's member mapping (JSON or CSV). Thin: parse, call one service or selector, render. The
provider's withdrawals (record one, list them with the licensees' acknowledgements) are
licensing's `/api/datasets/{id}/consent-withdrawals` (it knows the grants)."""

from django.db.models import Count
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from contributors.models import ConsentWithdrawal, MemberMapping
from contributors.selectors import contributor_of_user, dataset_of_organization
from contributors.services.member_mapping import (
    member_mapping_csv,
    member_mapping_csv_parse,
    member_mapping_of,
    member_mapping_set,
)
from contributors.services.withdrawals import consent_withdraw
from marketplace.pagination import PageQuerySerializer, page_args, page_schema, paginate

NOT_FOUND = OpenApiResponse(description="Unknown dataset, or another organisation's.")
NOT_CONTRIBUTOR = OpenApiResponse(description="The caller has claimed no contributor profile.")
RULE = OpenApiResponse(description="A rule is broken; the message names the line or field.")


def withdrawal_wire(withdrawal: ConsentWithdrawal) -> dict:
    """What the contributor and the provider read of a withdrawal."""
    return {
        "id": withdrawal.public_id,
        "datasetId": withdrawal.dataset.public_id,
        "datasetName": withdrawal.dataset.name,
        "source": withdrawal.source,
        "reason": withdrawal.reason,
        "withdrawnAt": withdrawal.created_at.isoformat(),
        "deadline": withdrawal.deadline.isoformat(),
        "status": withdrawal.status,
        "overdue": withdrawal.is_overdue,
        "fulfilledAt": withdrawal.fulfilled_at.isoformat() if withdrawal.fulfilled_at else None,
        "members": withdrawal.member_count
        if hasattr(withdrawal, "member_count")
        else withdrawal.members.count(),
        "shareTableVersion": withdrawal.share_table.version if withdrawal.share_table else None,
    }


class WithdrawalOutSerializer(serializers.Serializer):
    id = serializers.CharField()
    datasetId = serializers.CharField()
    datasetName = serializers.CharField()
    source = serializers.ChoiceField(choices=ConsentWithdrawal.Source.values)
    reason = serializers.CharField()
    withdrawnAt = serializers.DateTimeField()
    deadline = serializers.DateTimeField(
        help_text="The provider publishes a version without the members before this."
    )
    status = serializers.ChoiceField(choices=ConsentWithdrawal.Status.values)
    overdue = serializers.BooleanField()
    fulfilledAt = serializers.DateTimeField(allow_null=True)
    members = serializers.IntegerField(help_text="Archive members the withdrawal covers.")
    shareTableVersion = serializers.IntegerField(
        allow_null=True, help_text="The share table version without the contributor."
    )


class WithdrawInSerializer(serializers.Serializer):
    datasetId = serializers.CharField(max_length=64)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ContributorWithdrawalsApi(APIView):
    @extend_schema(
        parameters=[PageQuerySerializer],
        responses={
            200: page_schema("ContributorWithdrawalPage", WithdrawalOutSerializer()),
            404: NOT_CONTRIBUTOR,
        },
        summary="The caller's own consent withdrawals as a contributor (404 if not one)",
    )
    def get(self, request):
        params = PageQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        contributor = contributor_of_user(request.user)
        rows = (
            ConsentWithdrawal.objects.filter(contributor=contributor)
            .select_related("dataset", "share_table")
            .annotate(member_count=Count("members"))
            .order_by("-created_at", "-pk")
        )
        page = paginate(rows, **page_args(params.validated_data))
        return Response(page.body(withdrawal_wire))

    @extend_schema(
        request=WithdrawInSerializer,
        responses={
            201: WithdrawalOutSerializer,
            404: NOT_FOUND,
            409: OpenApiResponse(description="Consent for this dataset was already withdrawn."),
            422: RULE,
        },
        summary="Withdraw the caller's consent for a dataset they contributed to",
        description=(
            "Final. The dataset's share table gets a new version without the contributor from "
            "now (earnings so far stay theirs); the provider must publish a version without "
            "their members before the deadline; every licensee receives a signed deletion "
            "manifest. 404 for a dataset that does not name the caller; 409 "
            "consent_already_withdrawn."
        ),
    )
    def post(self, request):
        body = WithdrawInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        withdrawal = consent_withdraw(
            actor=request.auth,
            contributor=contributor_of_user(request.user),
            dataset_id=body.validated_data["datasetId"],
            reason=body.validated_data["reason"],
        )
        return Response(withdrawal_wire(withdrawal), status=201)


def mapping_wire(dataset, rows: list[MemberMapping]) -> dict:
    return {
        "datasetId": dataset.public_id,
        "mappings": [{"email": r.contributor.email, "pathPrefix": r.path_prefix} for r in rows],
    }


class MappingLineSerializer(serializers.Serializer):
    email = serializers.EmailField(help_text="A contributor named in the dataset's shares.")
    pathPrefix = serializers.CharField(
        help_text='Members whose path starts with this are theirs, e.g. "clips/alice/".'
    )


class MappingSerializer(serializers.Serializer):
    mappings = MappingLineSerializer(many=True)


class MappingOutSerializer(MappingSerializer):
    datasetId = serializers.CharField()


class MappingPutSerializer(serializers.Serializer):
    mappings = serializers.JSONField()


class DatasetMemberMappingApi(APIView):
    @extend_schema(
        responses={200: MappingOutSerializer, 404: NOT_FOUND},
        summary="The dataset's member mapping (contributor → member path prefixes)",
    )
    def get(self, request, dataset_id: str):
        dataset = dataset_of_organization(
            organization=request.auth.organization, dataset_id=dataset_id
        )
        return Response(mapping_wire(dataset, member_mapping_of(dataset)))

    @extend_schema(
        request=MappingSerializer,
        responses={200: MappingOutSerializer, 404: NOT_FOUND, 422: RULE},
        summary="Replace the dataset's member mapping (owners)",
        description=(
            "Every e-mail must be a contributor named in the dataset's revenue shares; each "
            "prefix a relative member path. Checked whole before anything is replaced (422 "
            "naming the line)."
        ),
    )
    def put(self, request, dataset_id: str):
        dataset = dataset_of_organization(
            organization=request.auth.organization, dataset_id=dataset_id
        )
        body = MappingPutSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        member_mapping_set(
            actor=request.auth, dataset=dataset, mappings=body.validated_data["mappings"]
        )
        return Response(mapping_wire(dataset, member_mapping_of(dataset)))


class CsvParser(BaseParser):
    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read()


class DatasetMemberMappingCsvApi(APIView):
    parser_classes = [CsvParser]

    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(description="email,path prefix lines")},
        summary="The dataset's member mapping as CSV",
    )
    def get(self, request, dataset_id: str):
        dataset = dataset_of_organization(
            organization=request.auth.organization, dataset_id=dataset_id
        )
        response = HttpResponse(member_mapping_csv(dataset), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{dataset.public_id}-members.csv"'
        return response

    @extend_schema(
        request={"text/csv": {"type": "string", "format": "binary"}},
        responses={200: MappingOutSerializer, 404: NOT_FOUND, 422: RULE},
        summary="Replace the dataset's member mapping from a CSV file (owners)",
        description=(
            "Body: `text/csv`, lines `e-mail,path prefix` (a header line is optional), UTF-8. "
            "Same rules as the JSON PUT; a bad line changes nothing (422 naming the line)."
        ),
    )
    def put(self, request, dataset_id: str):
        dataset = dataset_of_organization(
            organization=request.auth.organization, dataset_id=dataset_id
        )
        mappings = member_mapping_csv_parse(request.data or b"")
        member_mapping_set(actor=request.auth, dataset=dataset, mappings=mappings)
        return Response(mapping_wire(dataset, member_mapping_of(dataset)))
