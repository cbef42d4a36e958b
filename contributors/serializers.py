"""Wire shapes of the contributors API (camelCase, ids as strings, like the MDC API)."""

from rest_framework import serializers

from contributors.models import Contributor, Payee, PayoutAccount, ShareLine, ShareTable
from contributors.services.shares import basis_points_format
from marketplace.models import Dataset

# --- input ---------------------------------------------------------------------------------


class SharesPutSerializer(serializers.Serializer):
    """Only the envelope is parsed here; every rule about the lines is the service's (422 with a
    message that names the line and the problem)."""

    basis = serializers.CharField(required=False, allow_blank=True, default="")
    shares = serializers.JSONField(required=False, default=None)


class ShareLineInSerializer(serializers.Serializer):
    """Documentation of one line of a PUT (the service validates)."""

    organization = serializers.BooleanField(
        required=False, help_text="true: the line of the owning organisation itself."
    )
    email = serializers.EmailField(
        required=False, help_text="A contributor, found or invited by e-mail."
    )
    name = serializers.CharField(required=False, max_length=200)
    percent = serializers.CharField(
        required=False, help_text='basis "percentage": e.g. "40.00" (≤ 2 decimals, sum 100).'
    )
    weight = serializers.IntegerField(
        required=False, min_value=1, help_text='basis "weight": e.g. clips contributed.'
    )


class SharesPutDocSerializer(serializers.Serializer):
    basis = serializers.ChoiceField(choices=ShareTable.Basis.values)
    shares = ShareLineInSerializer(many=True)


class PayoutAccountCreateSerializer(serializers.Serializer):
    country = serializers.RegexField(
        r"^[A-Za-z]{2}$",
        required=False,
        help_text="ISO 3166-1 alpha-2 country of the account holder (Stripe's default if absent).",
    )


class ClaimSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=200)


# --- output --------------------------------------------------------------------------------


class ShareLineOutSerializer(serializers.Serializer):
    payeeId = serializers.CharField()
    kind = serializers.ChoiceField(choices=Payee.Kind.values)
    organization = serializers.BooleanField()
    name = serializers.CharField()
    email = serializers.CharField(allow_null=True)
    percent = serializers.CharField(allow_null=True)
    weight = serializers.IntegerField()
    claimed = serializers.BooleanField(allow_null=True)


class ShareTableOutSerializer(serializers.Serializer):
    datasetId = serializers.CharField()
    version = serializers.IntegerField()
    basis = serializers.ChoiceField(choices=ShareTable.Basis.values)
    createdAt = serializers.DateTimeField()
    shares = ShareLineOutSerializer(many=True)


class ShareTablePutOutSerializer(ShareTableOutSerializer):
    changed = serializers.BooleanField(help_text="false: same as the current version, no-op.")


class PayoutAccountOutSerializer(serializers.Serializer):
    accountId = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["none", "onboarding", "enabled"])
    detailsSubmitted = serializers.BooleanField()
    payoutsEnabled = serializers.BooleanField()


class PayoutAccountCreatedSerializer(PayoutAccountOutSerializer):
    onboardingUrl = serializers.URLField()


class ContributorOutSerializer(serializers.Serializer):
    id = serializers.CharField()
    email = serializers.EmailField()
    name = serializers.CharField()
    payeeId = serializers.CharField(allow_null=True)
    claimedAt = serializers.DateTimeField()


def email_mask(email: str) -> str:
    """ana@example.org -> a***@example.org"""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def share_line_wire(
    line: ShareLine, *, basis: str, reveal_emails: bool, organization_id: int
) -> dict:
    """One line as the dataset's organisation (`organization_id`) sees it: the name it typed
    (never one another organisation typed for the same person) and whether the person claimed
    *its* invitation (another organisation's claim is not its business; security finding 7)."""
    payee = line.payee
    is_org = payee.kind == Payee.Kind.ORGANIZATION
    contributor = payee.contributor
    if is_org:
        name, email, claimed = payee.organization.name, None, None
    else:
        email = contributor.email if reveal_emails else email_mask(contributor.email)
        name = line.name
        claimed = contributor.user_id is not None and contributor.claimed_via_id == organization_id
    return {
        "payeeId": str(payee.pk),
        "kind": payee.kind,
        "organization": is_org,
        "name": name,
        "email": email,
        "percent": basis_points_format(line.weight)
        if basis == ShareTable.Basis.PERCENTAGE
        else None,
        "weight": line.weight,
        "claimed": claimed,
    }


def share_table_wire(
    *, dataset: Dataset, table: ShareTable, lines: list[ShareLine], reveal_emails: bool
) -> dict:
    return {
        "datasetId": dataset.public_id,
        "version": table.version,
        "basis": table.basis,
        "createdAt": serializers.DateTimeField().to_representation(table.created_at),
        "shares": [
            share_line_wire(
                line,
                basis=table.basis,
                reveal_emails=reveal_emails,
                organization_id=dataset.organization_id,
            )
            for line in lines
        ],
    }


def payout_account_wire(account: PayoutAccount | None) -> dict:
    if account is None:
        return {
            "accountId": None,
            "status": "none",
            "detailsSubmitted": False,
            "payoutsEnabled": False,
        }
    return {
        "accountId": account.stripe_account_id,
        "status": "enabled" if account.payouts_enabled else "onboarding",
        "detailsSubmitted": account.details_submitted,
        "payoutsEnabled": account.payouts_enabled,
    }


def contributor_wire(contributor: Contributor) -> dict:
    payee = getattr(contributor, "payee", None)
    return {
        "id": str(contributor.pk),
        "email": contributor.email,
        "name": contributor.name,
        "payeeId": str(payee.pk) if payee else None,
        "claimedAt": serializers.DateTimeField().to_representation(contributor.claimed_at),
    }
