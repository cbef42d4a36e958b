from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.models import ApiKey, Membership
from marketplace.serializers import (
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    IssuedApiKeySerializer,
    MeSerializer,
    OrganizationSerializer,
)
from marketplace.services.identity import (
    api_key_can_upload,
    api_key_create,
    api_key_revoke,
    organization_request_upload_access,
)


class MeApi(APIView):
    @extend_schema(responses=MeSerializer, summary="Who the presented key belongs to")
    def get(self, request):
        key = request.auth
        data = {
            "userId": str(request.user.pk),
            "username": request.user.get_username(),
            "organization": key.organization,
            "apiKey": key,
            "canUpload": api_key_can_upload(key),
        }
        return Response(MeSerializer(data).data)


class ApiKeyListApi(APIView):
    @extend_schema(responses=ApiKeySerializer(many=True), summary="Your keys in this organisation")
    def get(self, request):
        keys = ApiKey.objects.filter(organization=request.auth.organization, user=request.user)
        return Response({"items": ApiKeySerializer(keys, many=True).data})

    @extend_schema(
        request=ApiKeyCreateSerializer,
        responses={201: IssuedApiKeySerializer},
        summary="Create a key (the secret is in the response, once)",
    )
    def post(self, request):
        body = ApiKeyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = api_key_create(
            user=request.user,
            organization=request.auth.organization,
            name=body.validated_data["name"],
        )
        data = ApiKeySerializer(issued.key).data | {"key": issued.secret}
        return Response(data, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(APIView):
    def _get(self, request, key_id):
        org = request.auth.organization
        is_owner = Membership.objects.filter(
            organization=org, user=request.user, role=Membership.Role.OWNER
        ).exists()
        keys = ApiKey.objects.filter(organization=org)
        if not is_owner:
            keys = keys.filter(user=request.user)
        return get_object_or_404(keys, pk=key_id)

    @extend_schema(responses=ApiKeySerializer, summary="One of your keys")
    def get(self, request, key_id: int):
        return Response(ApiKeySerializer(self._get(request, key_id)).data)

    @extend_schema(
        responses={204: None},
        summary="Revoke a key (owners may revoke any key of the organisation)",
    )
    def delete(self, request, key_id: int):
        api_key_revoke(key=self._get(request, key_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadAccessApi(APIView):
    @extend_schema(
        request=None, responses=OrganizationSerializer, summary="Ask staff for upload access"
    )
    def post(self, request):
        if not Membership.objects.filter(
            organization=request.auth.organization, user=request.user, role=Membership.Role.OWNER
        ).exists():
            raise PermissionDenied("Only an owner of the organisation can request upload access.")
        org = organization_request_upload_access(
            organization=request.auth.organization, actor=request.user
        )
        return Response(OrganizationSerializer(org).data)


class PingApi(APIView):
    """A trivial public endpoint: liveness of the API process, and the benchmarks' baseline."""

    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer("Pong", {"ok": serializers.BooleanField()}), summary="Ping"
    )
    def get(self, request):
        return Response({"ok": True})
