"""`/api/webhook-endpoints` (+ deliveries, resend) and `/api/events` (polling)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.events import delivery as deliveries
from marketplace.events import services
from marketplace.events.serializers import (
    EventDeliverySerializer,
    EventListQuerySerializer,
    EventSerializer,
    IssuedWebhookEndpointSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
)
from marketplace.pagination import PageQuerySerializer, page_args, page_schema, paginate

UNSAFE_URL = OpenApiResponse(
    description="The URL is not http(s), does not resolve, or resolves to a loopback, "
    "link-local or private address; or the organisation has too many endpoints."
)


class WebhookEndpointListApi(APIView):
    @extend_schema(
        parameters=[PageQuerySerializer],
        responses=page_schema("WebhookEndpointPage", WebhookEndpointSerializer()),
        summary="Your organisation's webhook endpoints",
        operation_id="webhook_endpoints_list",
    )
    def get(self, request):
        params = PageQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        rows = services.webhook_endpoints_of(actor=request.auth)
        page = paginate(rows, **page_args(params.validated_data))
        return Response(page.body(lambda e: WebhookEndpointSerializer(e).data))

    @extend_schema(
        request=WebhookEndpointCreateSerializer,
        responses={201: IssuedWebhookEndpointSerializer, 422: UNSAFE_URL},
        summary="Register an endpoint (owners; the signing secret is in the response, once)",
    )
    def post(self, request):
        body = WebhookEndpointCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_create(
            actor=request.auth,
            url=body.validated_data["url"],
            event_types=body.validated_data["eventTypes"],
            description=body.validated_data.get("description", ""),
        )
        data = IssuedWebhookEndpointSerializer(endpoint).data
        return Response(data, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailApi(APIView):
    @extend_schema(responses=WebhookEndpointSerializer, summary="One webhook endpoint")
    def get(self, request, endpoint_id: int):
        endpoint = services.webhook_endpoint_get(actor=request.auth, endpoint_id=endpoint_id)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None}, summary="Delete a webhook endpoint (owners)")
    def delete(self, request, endpoint_id: int):
        endpoint = services.webhook_endpoint_get(actor=request.auth, endpoint_id=endpoint_id)
        services.webhook_endpoint_delete(actor=request.auth, endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryListApi(APIView):
    @extend_schema(
        parameters=[PageQuerySerializer],
        responses=page_schema("EventDeliveryPage", EventDeliverySerializer()),
        summary="The endpoint's delivery log, newest first (each with its attempts)",
        operation_id="webhook_deliveries_list",
    )
    def get(self, request, endpoint_id: int):
        params = PageQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_get(actor=request.auth, endpoint_id=endpoint_id)
        rows = deliveries.deliveries_of_endpoint(endpoint=endpoint)
        page = paginate(rows, **page_args(params.validated_data))
        return Response(page.body(lambda d: EventDeliverySerializer(d).data))


class WebhookDeliveryResendApi(APIView):
    @extend_schema(
        request=None,
        responses={
            202: EventDeliverySerializer,
            403: OpenApiResponse(description="Only an owner may resend."),
            409: OpenApiResponse(description="The endpoint is disabled."),
        },
        summary="Send a delivery again (same event id: receivers see a replay)",
    )
    def post(self, request, endpoint_id: int, delivery_id: int):
        endpoint = services.webhook_endpoint_get(actor=request.auth, endpoint_id=endpoint_id)
        delivery = deliveries.delivery_resend(
            actor=request.auth, endpoint=endpoint, delivery_id=delivery_id
        )
        delivery = deliveries.deliveries_of_endpoint(endpoint=endpoint).get(pk=delivery.pk)
        return Response(EventDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class EventListApi(APIView):
    @extend_schema(
        parameters=[EventListQuerySerializer],
        responses={
            200: page_schema("EventPage", EventSerializer()),
            404: OpenApiResponse(description="`after` names no event of your organisation."),
        },
        summary="Your organisation's events, oldest first (poll with after=<last id seen>)",
        operation_id="events_list",
    )
    def get(self, request):
        params = EventListQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        rows = services.events_after(actor=request.auth, after=params.validated_data.get("after"))
        page = paginate(rows, **page_args(params.validated_data))
        return Response(page.body(services.event_wire))
