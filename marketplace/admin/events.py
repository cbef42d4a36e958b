"""Outbound events in the staff console, read-only (support answers "did my webhook fire?"):
endpoints (never their signing secret) and each delivery with its attempts. Any active staff
user may look; changes are the organisation's own (workspace page, API)."""

from django.contrib import admin

from marketplace.admin.permissions import ReadOnlyAdmin, ReadOnlyInline
from marketplace.models import DeliveryAttempt, EventDelivery, WebhookEndpoint


class _StaffReadable:
    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_StaffReadable, ReadOnlyAdmin):
    list_display = [
        "url",
        "organization",
        "status",
        "consecutive_failures",
        "disabled_at",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["url", "organization__name"]
    list_select_related = ["organization"]
    exclude = ["secret"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in WebhookEndpoint._meta.fields if f.name != "secret"]


class DeliveryAttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    fields = ["number", "response_code", "latency_ms", "succeeded", "error", "created_at"]
    readonly_fields = fields


@admin.register(EventDelivery)
class EventDeliveryAdmin(_StaffReadable, ReadOnlyAdmin):
    list_display = [
        "pk",
        "event",
        "endpoint",
        "status",
        "attempts",
        "last_response_code",
        "last_latency_ms",
        "next_attempt_at",
    ]
    list_filter = ["status"]
    search_fields = ["event__public_id", "endpoint__url"]
    list_select_related = ["event", "endpoint"]
    inlines = [DeliveryAttemptInline]
