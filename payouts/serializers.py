"""Wire shapes of the payee API (camelCase, like the rest of /api). Ledger amounts are integer
micro-units (`...Micros`, 1e-6 of the currency unit); payout amounts are integer cents."""

from rest_framework import serializers

from marketplace.pagination import PageQuerySerializer
from payouts.models import PayoutLine, StatementRoot
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


# --- provable statements (issue 13 §4) ------------------------------------------------------------


class StatementRootSerializer(serializers.ModelSerializer):
    leafCount = serializers.IntegerField(source="leaf_count")
    chainSequence = serializers.IntegerField(source="chain_sequence")
    chainHead = serializers.CharField(source="chain_hash")
    issuedAt = serializers.DateTimeField(source="issued_at")
    token = serializers.CharField(
        help_text="Compact JWS (EdDSA, a key of /.well-known/jwks.json) of the claims typ, "
        "period, root, leafCount, chainSequence, chainHead, iat"
    )

    class Meta:
        model = StatementRoot
        fields = [
            "period",
            "root",
            "leafCount",
            "chainSequence",
            "chainHead",
            "issuedAt",
            "kid",
            "token",
        ]


class ProofStepSerializer(serializers.Serializer):
    side = serializers.ChoiceField(choices=["left", "right"])
    hash = serializers.CharField()


class ProvenStatementSerializer(serializers.Serializer):
    payeeId = serializers.IntegerField(source="leaf.payee_id")
    currency = serializers.CharField(source="leaf.currency")
    line = serializers.CharField(
        source="leaf.line",
        help_text="The leaf's canonical JSON (amounts in micro-units): hash these exact bytes",
    )
    leafHash = serializers.CharField(source="leaf.leaf_hash")
    leafIndex = serializers.IntegerField(source="leaf.index")
    proof = ProofStepSerializer(many=True)


class StatementProofsSerializer(serializers.Serializer):
    period = serializers.CharField()
    root = StatementRootSerializer()
    statements = ProvenStatementSerializer(many=True)
