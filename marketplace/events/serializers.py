from rest_framework import serializers

from marketplace.events.services import EVENT_TYPES
from marketplace.pagination import PageQuerySerializer


class WebhookEndpointCreateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    eventTypes = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), min_length=1, max_length=20
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class WebhookEndpointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    description = serializers.CharField()
    eventTypes = serializers.ListField(child=serializers.CharField(), source="event_types")
    status = serializers.CharField()
    consecutiveFailures = serializers.IntegerField(source="consecutive_failures")
    disabledAt = serializers.DateTimeField(source="disabled_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")


class IssuedWebhookEndpointSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(help_text="The signing secret. Shown once, here.")


class DeliveryAttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    responseCode = serializers.IntegerField(source="response_code", allow_null=True)
    latencyMs = serializers.IntegerField(source="latency_ms")
    responseBody = serializers.CharField(
        source="response_body", help_text="At most 1 KB of the response."
    )
    error = serializers.CharField()
    succeeded = serializers.BooleanField()
    createdAt = serializers.DateTimeField(source="created_at")


class EventDeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    eventId = serializers.CharField(source="event.public_id")
    eventType = serializers.CharField(source="event.type")
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    responseCode = serializers.IntegerField(source="last_response_code", allow_null=True)
    latencyMs = serializers.IntegerField(source="last_latency_ms", allow_null=True)
    error = serializers.CharField(source="last_error")
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", allow_null=True)
    deliveredAt = serializers.DateTimeField(source="delivered_at", allow_null=True)
    log = DeliveryAttemptSerializer(many=True)


class EventSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Stable: de-duplicate on it.")
    type = serializers.CharField()
    created = serializers.IntegerField(help_text="Unix seconds.")
    data = serializers.DictField()


class EventListQuerySerializer(PageQuerySerializer):
    after = serializers.CharField(
        required=False, max_length=40, help_text="Only events after this event id."
    )
