"""Wire shapes of the payee API (camelCase, like the rest of /api). Ledger amounts are integer
micro-units (`...Micros`, 1e-6 of the currency unit); payout amounts are integer cents."""

from rest_framework import serializers

from marketplace.pagination import PageQuerySerializer
from payouts.models import PayoutLine
from payouts.selectors import PayeeEarnings


class PayoutsQuerySerializer(PageQuerySerializer):
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=50)


class CurrencyEarningsSerializer(serializers.Serializer):
    currency = serializers.CharField()
    pendingMicros = serializers.IntegerField(source="pending")
    availableMicros = serializers.IntegerField(source="available")
    inPayoutCents = serializers.IntegerField(source="in_payout")
    paidCents = serializers.IntegerField(source="paid")


class DatasetEarningsSerializer(serializers.Serializer):
    datasetId = serializers.CharField(source="dataset_id")
    name = serializers.CharField()
    currency = serializers.CharField()
    earnedMicros = serializers.IntegerField(source="earned")
    pendingMicros = serializers.IntegerField(source="pending")


class PayeeEarningsSerializer(serializers.Serializer):
    payeeId = serializers.IntegerField(source="payee.pk")
    kind = serializers.CharField(source="payee.kind")
    currencies = CurrencyEarningsSerializer(many=True)
    datasets = DatasetEarningsSerializer(many=True)


class EarningsSerializer(serializers.Serializer):
    organization = PayeeEarningsSerializer(allow_null=True)
    contributor = PayeeEarningsSerializer(allow_null=True)


def earnings_wire(by_role: dict[str, PayeeEarnings | None]) -> dict:
    return EarningsSerializer(by_role).data


class PayoutLineSerializer(serializers.ModelSerializer):
    runId = serializers.IntegerField(source="run_id")
    # A plain string (not an enum component): "pending", "sending", "sent", "paid" or "failed".
    status = serializers.CharField(
        help_text="pending → sending → sent → paid | failed (failed: the money is available again)"
    )
    payeeKind = serializers.CharField(source="payee.kind")
    amountCents = serializers.IntegerField(source="amount_cents")
    transferId = serializers.CharField(source="transfer_id")
    createdAt = serializers.DateTimeField(source="created_at")
    sentAt = serializers.DateTimeField(source="sent_at")
    finishedAt = serializers.DateTimeField(source="finished_at")

    class Meta:
        model = PayoutLine
        fields = [
            "id",
            "runId",
            "payeeKind",
            "currency",
            "amountCents",
            "status",
            "transferId",
            "createdAt",
            "sentAt",
            "finishedAt",
        ]
