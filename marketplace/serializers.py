from rest_framework import serializers

from marketplace.models import ApiKey, Organization, Submission
from marketplace.pagination import PageQuerySerializer


class OrganizationSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    uploadAccess = serializers.CharField(source="upload_access", read_only=True)
    uploadApprovedAt = serializers.DateTimeField(
        source="upload_approved_at", read_only=True, allow_null=True
    )

    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "uploadAccess", "uploadApprovedAt"]


class ApiKeySerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    lastUsedAt = serializers.DateTimeField(source="last_used_at", read_only=True, allow_null=True)
    revokedAt = serializers.DateTimeField(source="revoked_at", read_only=True, allow_null=True)
    organizationId = serializers.CharField(source="organization_id", read_only=True)
    userId = serializers.CharField(source="user_id", read_only=True)
    mayUpload = serializers.BooleanField(
        source="may_upload",
        read_only=True,
        help_text="False for a key minted by a key that could not upload: it never can.",
    )

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "organizationId",
            "userId",
            "mayUpload",
            "createdAt",
            "lastUsedAt",
            "revokedAt",
        ]


class ApiKeyListSerializer(serializers.Serializer):
    """GET /api/keys: `{"items": [...]}` (not paged), with or without `all=true`."""

    items = ApiKeySerializer(many=True)


class ApiKeyListQuerySerializer(serializers.Serializer):
    all = serializers.BooleanField(required=False, default=False)


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class IssuedApiKeySerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The secret. Shown once; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]


class MeSerializer(serializers.Serializer):
    userId = serializers.CharField()
    username = serializers.CharField()
    organization = OrganizationSerializer()
    role = serializers.CharField()
    apiKey = ApiKeySerializer()
    canUpload = serializers.BooleanField()


class SubmissionListQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(
        choices=[s for s in Submission.Status.values if s != Submission.Status.DELETED],
        required=False,
        help_text="Only submissions in this state.",
    )
