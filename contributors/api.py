"""Contributors API: revenue shares of a dataset, invitation claims and payout accounts.
Thin: parse, call one service or selector, render."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from contributors import serializers as wire
from contributors.selectors import (
    contributor_of_user,
    dataset_of_organization,
    payout_account_of_contributor,
    payout_account_of_organization,
    share_table_lines,
)
from contributors.services.invitations import contributor_claim
from contributors.services.payout_accounts import (
    contributor_payout_account_start,
    organization_payout_account_start,
)
from contributors.services.shares import share_table_current, share_table_set
from marketplace.services.errors import Forbidden

NOT_FOUND = OpenApiResponse(description="Unknown dataset, or another organisation's.")


class DatasetSharesApi(APIView):
    def _render(self, request, dataset, table, **extra):
        reveal = request.auth.is_owner
        data = wire.share_table_wire(
            dataset=dataset, table=table, lines=share_table_lines(table), reveal_emails=reveal
        )
        return Response(data | extra)

    @extend_schema(
        responses={200: wire.ShareTableOutSerializer, 404: NOT_FOUND},
        summary="The dataset's current revenue-share table",
        description=(
            "Members of the owning organisation only. Owners see contributors' e-mails, other "
            "members a masked form. A dataset whose shares were never set has version 1: 100 % "
            "to the organisation."
        ),
    )
    def get(self, request, dataset_id: str):
        dataset = dataset_of_organization(
            organization=request.auth.organization, dataset_id=dataset_id
        )
        return self._render(request, dataset, share_table_current(dataset))

    @extend_schema(
        request=wire.SharesPutDocSerializer,
        responses={200: wire.ShareTablePutOutSerializer, 404: NOT_FOUND},
        summary="Set the dataset's revenue shares (owners; a change is a new version)",
        description=(
            'basis "percentage": each line a `percent` (≤ 2 decimals) summing to exactly 100; '
            'basis "weight": each line a positive whole `weight`, split pro rata. A line is '
            '`{"organization": true}` or a contributor `{"email", "name"}`; contributors '
            "without an account are invited by e-mail. Saving the current table again is a "
            "no-op (`changed: false`). Problems are 422 with a message naming the line."
        ),
    )
    def put(self, request, dataset_id: str):
        dataset = dataset_of_organization(
            organization=request.auth.organization, dataset_id=dataset_id
        )
        body = wire.SharesPutSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        table, changed = share_table_set(
            actor=request.auth,
            dataset=dataset,
            basis=body.validated_data["basis"],
            shares=body.validated_data["shares"],
        )
        return self._render(request, dataset, table, changed=changed)


class ContributorClaimApi(APIView):
    @extend_schema(
        request=wire.ClaimSerializer,
        responses={200: wire.ContributorOutSerializer},
        summary="Claim a contributor invitation for the caller's user",
        description=(
            "The caller's user must have verified the invited e-mail address (403 "
            "invitation_email_mismatch otherwise). 404 invitation_invalid (unknown or used "
            "token), 410 invitation_expired, 409 contributor_already_linked (the user already is "
            "another contributor)."
        ),
    )
    def post(self, request):
        body = wire.ClaimSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        contributor = contributor_claim(token=body.validated_data["token"], user=request.user)
        return Response(wire.contributor_wire(contributor))


class ContributorMeApi(APIView):
    @extend_schema(
        responses={200: wire.ContributorOutSerializer},
        summary="The contributor profile the caller's user claimed (404 if none)",
    )
    def get(self, request):
        return Response(wire.contributor_wire(contributor_of_user(request.user)))


def _started(onboarding) -> Response:
    data = wire.payout_account_wire(onboarding.account) | {"onboardingUrl": onboarding.url}
    return Response(data, status=status.HTTP_201_CREATED if onboarding.created else 200)


PAYOUT_POST_RESPONSES = {
    200: wire.PayoutAccountCreatedSerializer,
    201: wire.PayoutAccountCreatedSerializer,
    502: OpenApiResponse(description="Stripe refused the request."),
    503: OpenApiResponse(description="Stripe is unreachable; try again."),
}


class OrganizationPayoutAccountApi(APIView):
    @extend_schema(
        responses={200: wire.PayoutAccountOutSerializer},
        summary="The organisation's payout account status (owners)",
    )
    def get(self, request):
        actor = request.auth
        if not actor.is_owner:
            raise Forbidden(
                "Only an owner of the organisation can see the payout account.", code="owner_only"
            )
        return Response(
            wire.payout_account_wire(payout_account_of_organization(actor.organization))
        )

    @extend_schema(
        request=wire.PayoutAccountCreateSerializer,
        responses=PAYOUT_POST_RESPONSES,
        summary="Create (once) the organisation's Stripe Express account; a fresh onboarding link",
        description="201 when the account was created now, 200 when it already existed.",
    )
    def post(self, request):
        body = wire.PayoutAccountCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        onboarding = organization_payout_account_start(
            actor=request.auth,
            country=body.validated_data.get("country"),
        )
        return _started(onboarding)


class ContributorPayoutAccountApi(APIView):
    @extend_schema(
        responses={200: wire.PayoutAccountOutSerializer},
        summary="The caller's own payout account as a contributor (404 if not a contributor)",
    )
    def get(self, request):
        contributor = contributor_of_user(request.user)
        return Response(wire.payout_account_wire(payout_account_of_contributor(contributor)))

    @extend_schema(
        request=wire.PayoutAccountCreateSerializer,
        responses=PAYOUT_POST_RESPONSES,
        summary="Create (once) the caller's own Stripe Express account as a contributor",
        description="201 when the account was created now, 200 when it already existed.",
    )
    def post(self, request):
        body = wire.PayoutAccountCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        onboarding = contributor_payout_account_start(
            actor=request.auth,
            contributor=contributor_of_user(request.user),
            country=body.validated_data.get("country"),
        )
        return _started(onboarding)
