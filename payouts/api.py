"""The payee API: what the caller is owed and what was paid to them. Only the caller's own
payees are ever read (the key's organisation, if the caller owns it, and the contributor profile
the caller claimed): there is no id in these URLs to point at anyone else's."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.pagination import page_args, page_schema, paginate
from payouts import serializers as wire
from payouts.models import StatementRoot
from payouts.selectors import payee_earnings, payees_of_user, payout_lines_of_payees
from payouts.services.proofs import payee_statement_proofs


def _payees(request):
    return payees_of_user(user=request.user, organization=request.auth.organization)


class EarningsApi(APIView):
    @extend_schema(
        responses={200: wire.EarningsSerializer},
        summary="The caller's earnings: pending, available and paid, per currency and dataset",
        description=(
            "`organization`: the key's organisation (owners only, else null); `contributor`: "
            "the caller as an individual contributor, if they claimed a profile (else null). "
            "Ledger amounts in micro-units, payouts in cents."
        ),
        operation_id="earnings_get",
    )
    def get(self, request):
        payees = _payees(request)
        body = {
            role: payee_earnings(payee=payee) if payee is not None else None
            for role, payee in payees.items()
        }
        return Response(wire.earnings_wire(body))


class PayoutsApi(APIView):
    @extend_schema(
        parameters=[wire.PayoutsQuerySerializer],
        responses={200: page_schema("PayoutLinePage", wire.PayoutLineSerializer())},
        summary="The caller's payout lines with their status, newest first",
        operation_id="payouts_list",
    )
    def get(self, request):
        params = wire.PayoutsQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        ids = [p.pk for p in _payees(request).values() if p is not None]
        lines = payout_lines_of_payees(payee_ids=ids)
        page = paginate(lines, **page_args(params.validated_data))
        return Response(page.body(lambda line: wire.PayoutLineSerializer(line).data))


class StatementRootsApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[wire.PayoutsQuerySerializer],
        responses={200: page_schema("StatementRootPage", wire.StatementRootSerializer())},
        summary="Published statement roots (signed Merkle roots of every payee's statement)",
        description=(
            "Public. One root per month, newest first, immutable once published. `token` is a "
            "JWS signed with a key of /.well-known/jwks.json; its claims repeat the root and "
            "anchor the ledger's hash-chain head (`chainSequence`, `chainHead`) at build time."
        ),
        operation_id="statement_roots_list",
    )
    def get(self, request):
        params = wire.PayoutsQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = paginate(StatementRoot.objects.all(), **page_args(params.validated_data))
        return Response(page.body(lambda root: wire.StatementRootSerializer(root).data))


class EarningsStatementApi(APIView):
    @extend_schema(
        responses={
            200: wire.StatementProofsSerializer,
            422: OpenApiResponse(description="The period is not YYYY-MM"),
            404: OpenApiResponse(description="No root published for the period yet"),
        },
        summary="The caller's statement lines of a month with their Merkle inclusion proofs",
        description=(
            "`period`: YYYY-MM. One line per payee of the caller and currency. Verify: "
            "sha256(0x00 || line), then per proof step sha256(0x01 || hash || own) if the step's "
            "side is `left`, else sha256(0x01 || own || hash); the result is `root.root`, "
            'which the JWS `root.token` signs (README, "Verify your statement").'
        ),
        operation_id="earnings_statement_get",
    )
    def get(self, request, period: str):
        ids = [p.pk for p in _payees(request).values() if p is not None]
        root, proven = payee_statement_proofs(period=period, payee_ids=ids)
        return Response(
            wire.StatementProofsSerializer(
                {"period": period, "root": root, "statements": proven}
            ).data
        )
