"""`POST /api/takedown-notices`: anyone (no key needed) files a takedown notice about a published
dataset (issue 13 §3). Budgeted per caller and per IP (`API_THROTTLE_SCOPES["takedown_notices"]`,
shared with the web form); the notice itself is checked by `takedown_notice_file`."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.models import TakedownNotice
from marketplace.services.takedowns import takedown_notice_file


class TakedownNoticeCreateSerializer(serializers.Serializer):
    dataset = serializers.CharField(max_length=120, help_text="The dataset's id or slug.")
    version = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="Only this version, if set."
    )
    claimantName = serializers.CharField(allow_blank=True, max_length=1000)
    contactEmail = serializers.CharField(allow_blank=True, max_length=1000)
    basis = serializers.ChoiceField(choices=TakedownNotice.Basis.choices)
    members = serializers.ListField(
        child=serializers.CharField(max_length=2000), required=False, max_length=2000
    )
    description = serializers.CharField(allow_blank=True, max_length=20_000)
    goodFaith = serializers.BooleanField(
        help_text="I state in good faith that the use of the material is not authorised and "
        "that the information in this notice is accurate."
    )


class TakedownNoticeReceiptSerializer(serializers.Serializer):
    reference = serializers.CharField()
    dataset = serializers.CharField(source="dataset.public_id")
    version = serializers.IntegerField(source="version.number", allow_null=True, default=None)
    basis = serializers.CharField()
    status = serializers.CharField()
    created = serializers.DateTimeField(source="created_at")


class TakedownNoticeListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        request=TakedownNoticeCreateSerializer,
        responses={
            201: TakedownNoticeReceiptSerializer,
            404: OpenApiResponse(description="No such published dataset (or version)."),
            409: OpenApiResponse(description="The dataset was already removed."),
            422: OpenApiResponse(description="A field is missing or wrong (see `fields`)."),
            429: OpenApiResponse(description="Too many notices from this caller or address."),
        },
        summary="File a takedown notice (no key needed; the claimant is e-mailed a receipt)",
        operation_id="takedown_notices_create",
    )
    def post(self, request):
        body = TakedownNoticeCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        notice = takedown_notice_file(
            actor=request.auth,
            dataset=data["dataset"],
            version=data.get("version"),
            claimant_name=data["claimantName"],
            contact_email=data["contactEmail"],
            basis=data["basis"],
            members="\n".join(data.get("members") or []),
            description=data["description"],
            good_faith=data["goodFaith"],
        )
        return Response(
            TakedownNoticeReceiptSerializer(notice).data, status=status.HTTP_201_CREATED
        )
