from django.urls import path

from marketplace.events import api

urlpatterns = [
    path("webhook-endpoints", api.WebhookEndpointListApi.as_view(), name="webhook-endpoints"),
    path(
        "webhook-endpoints/<int:endpoint_id>",
        api.WebhookEndpointDetailApi.as_view(),
        name="webhook-endpoint-detail",
    ),
    path(
        "webhook-endpoints/<int:endpoint_id>/deliveries",
        api.WebhookDeliveryListApi.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhook-endpoints/<int:endpoint_id>/deliveries/<int:delivery_id>/resend",
        api.WebhookDeliveryResendApi.as_view(),
        name="webhook-delivery-resend",
    ),
    path("events", api.EventListApi.as_view(), name="events"),
]
