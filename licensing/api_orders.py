"""Orders API: POST/GET /api/orders, GET /api/orders/{id} (the caller's organisation only)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.models import Order
from licensing.services.orders import order_create
from marketplace.pagination import PageQuerySerializer, page_args, page_schema, paginate


class OrderPageQuerySerializer(PageQuerySerializer):
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=24)


def order_wire(order: Order) -> dict:
    return {
        "id": order.public_id,
        "datasetId": order.dataset.public_id,
        "datasetVersion": order.dataset_version.number,
        "status": order.status,
        "termsHash": order.terms_hash,
        "basePriceCents": order.base_price_cents,
        "platformFeeCents": order.platform_fee_cents,
        "totalPriceCents": order.total_price_cents,
        "currency": order.currency,
        "paymentIntentId": order.payment_intent_id,
        "clientSecret": order.client_secret or None,
        "refundedCents": order.refunded_cents,
        "disputed": order.disputed_at is not None,
        "createdAt": order.created_at.isoformat(),
        "paidAt": order.paid_at.isoformat() if order.paid_at else None,
    }


class OrderCreateSerializer(serializers.Serializer):
    datasetId = serializers.CharField(max_length=64)


class OrderListApi(APIView):
    @extend_schema(
        parameters=[OrderPageQuerySerializer],
        responses=page_schema("OrderPage"),
        summary="Your organisation's orders",
        operation_id="orders_list",
    )
    def get(self, request):
        params = OrderPageQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        orders = (
            Order.objects.filter(organization=request.auth.organization)
            .select_related("dataset", "dataset_version")
            .order_by("-created_at", "-pk")
        )
        return Response(paginate(orders, **page_args(params.validated_data)).body(order_wire))

    @extend_schema(
        request=OrderCreateSerializer,
        responses={201: inline_serializer("OrderCreated", {"id": serializers.CharField()})},
        parameters=[
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True)
        ],
        summary="Order a paid dataset: creates a Stripe PaymentIntent for totalPriceCents",
        operation_id="orders_create",
    )
    def post(self, request):
        body = OrderCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = order_create(
            actor=request.auth,
            dataset_id=body.validated_data["datasetId"],
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        return Response(order_wire(order), status=status.HTTP_201_CREATED)


class OrderDetailApi(APIView):
    @extend_schema(
        responses=OpenApiTypes.OBJECT, summary="One of your orders", operation_id="orders_detail"
    )
    def get(self, request, order_id: str):
        order = get_object_or_404(
            Order.objects.select_related("dataset", "dataset_version"),
            organization=request.auth.organization,
            public_id=order_id,
        )
        return Response(order_wire(order))
