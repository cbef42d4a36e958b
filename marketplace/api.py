from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import catalogue_api
from marketplace.catalogue_serializers import submission_wire
from marketplace.pagination import page_args, page_schema, paginate
from marketplace.selectors import submissions_of_organization
from marketplace.serializers import (
    ApiKeyCreateSerializer,
    ApiKeyListQuerySerializer,
    ApiKeyListSerializer,
    ApiKeySerializer,
    IssuedApiKeySerializer,
    MeSerializer,
    OrganizationSerializer,
    SubmissionListQuerySerializer,
)
from marketplace.services.identity import (
    api_key_create,
    api_key_get,
    api_key_revoke,
    api_keys_visible,
    organization_request_upload_access,
)
from marketplace.services.submissions import upload_rights_require


class MeApi(APIView):
    @extend_schema(responses=MeSerializer, summary="Who the presented key belongs to")
    def get(self, request):
        actor = request.auth
        data = {
            "userId": str(request.user.pk),
            "username": request.user.get_username(),
            "organization": actor.organization,
            "role": actor.role,
            "apiKey": actor.api_key,
            "canUpload": actor.can_upload,
        }
        return Response(MeSerializer(data).data)


class ApiKeyListApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "all",
                bool,
                description="Owners only: every key of the organisation, not only your own.",
            )
        ],
        responses=ApiKeyListSerializer,
        operation_id="keys_list",
        summary="Your keys in this organisation (owners: every key, with all=true)",
    )
    def get(self, request):
        query = ApiKeyListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        keys = api_keys_visible(actor=request.auth, every=query.validated_data["all"])
        return Response({"items": ApiKeySerializer(keys, many=True).data})

    @extend_schema(
        request=ApiKeyCreateSerializer,
        responses={201: IssuedApiKeySerializer},
        summary="Create a key for yourself (the secret is in the response, once)",
    )
    def post(self, request):
        body = ApiKeyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = api_key_create(actor=request.auth, name=body.validated_data["name"])
        data = ApiKeySerializer(issued.key).data | {"key": issued.secret}
        return Response(data, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(APIView):
    @extend_schema(responses=ApiKeySerializer, summary="One of your keys")
    def get(self, request, key_id: int):
        return Response(ApiKeySerializer(api_key_get(actor=request.auth, key_id=key_id)).data)

    @extend_schema(
        responses={204: None},
        summary="Revoke a key (owners may revoke any key of the organisation)",
    )
    def delete(self, request, key_id: int):
        api_key_revoke(key=api_key_get(actor=request.auth, key_id=key_id), actor=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadAccessApi(APIView):
    @extend_schema(
        request=None, responses=OrganizationSerializer, summary="Ask staff for upload access"
    )
    def post(self, request):
        org = organization_request_upload_access(actor=request.auth)
        return Response(OrganizationSerializer(org).data)


class PingApi(APIView):
    """A trivial public endpoint: liveness of the API process, and the benchmarks' baseline."""

    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer("Pong", {"ok": serializers.BooleanField()}), summary="Ping"
    )
    def get(self, request):
        return Response({"ok": True})


class SubmissionListApi(catalogue_api.SubmissionListApi):
    """`/api/submissions`: E7 (POST, create a draft) and the organisation's list (GET)."""

    @extend_schema(
        parameters=[SubmissionListQuerySerializer],
        responses=page_schema("SubmissionPage"),
        summary="Your organisation's submissions (newest first; filter by status)",
        description=(
            "Every submission of the key's organisation except deleted ones, each in the shape "
            "of `GET /api/submissions/{id}`'s `submission`. Needs upload access, as every "
            "submission endpoint."
        ),
        operation_id="submissions_list",
    )
    def get(self, request):
        params = SubmissionListQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        upload_rights_require(actor=request.auth)
        rows = submissions_of_organization(
            organization=request.auth.organization, status=params.validated_data.get("status")
        )
        return Response(paginate(rows, **page_args(params.validated_data)).body(submission_wire))
