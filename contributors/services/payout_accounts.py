"""Payout accounts: Stripe Connect Express accounts of payees, and their onboarding state.

We create each payee's account once (the idempotency key is derived from our payee row, so a
retried or concurrent request gets Stripe's first answer back instead of a second account) and
learn that payouts are enabled from `account.updated` webhooks, always re-fetching the account
from Stripe rather than trusting the event body."""

import logging
from contextlib import contextmanager
from dataclasses import dataclass

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction

from contributors.models import Contributor, Payee, PayoutAccount
from contributors.services.payees import (
    organization_owner_check,
    payee_for_contributor,
    payee_for_organization,
)
from marketplace.actors import Actor
from marketplace.models import StripeEvent
from marketplace.observability.request_id import stripe_request_metadata
from marketplace.payments import PaymentProviderUnavailable, stripe_client
from marketplace.services.audit import audit_record
from marketplace.services.errors import Forbidden, ServiceError

logger = logging.getLogger(__name__)


class PaymentProviderError(ServiceError):
    status_code = 502
    code = "payment_provider_error"


@contextmanager
def stripe_errors():
    """Stripe failures as API errors: unreachable or throttled is 503 (try again), anything
    Stripe refused is 502 with Stripe's message."""
    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        logger.warning("Stripe unavailable: %s", exc)
        raise PaymentProviderUnavailable(
            "The payment provider is unavailable; try again in a moment."
        ) from exc
    except stripe.StripeError as exc:
        logger.warning("Stripe refused a request: %s", exc)
        raise PaymentProviderError(
            f"The payment provider refused the request: {exc.user_message or exc}"
        ) from exc


def account_idempotency_key(payee: Payee) -> str:
    """From our own row: the payee id plus its creation instant, so a database that was reset
    and reuses ids never collides with keys sent for another payee."""
    return f"payout-account:payee:{payee.pk}:{payee.created_at.timestamp():.6f}"


def _account_params(payee: Payee, country: str | None) -> dict:
    params: dict = {
        "type": "express",
        "capabilities": {"transfers": {"requested": True}},
        "metadata": {
            "payee_id": str(payee.pk),
            "payee_kind": payee.kind,
            **stripe_request_metadata(account_idempotency_key(payee)),
        },
    }
    country = country or settings.STRIPE_CONNECT_DEFAULT_COUNTRY
    if country:
        params["country"] = country.upper()
    if payee.kind == Payee.Kind.CONTRIBUTOR:
        # Deterministic per payee (part of the idempotent request), and pre-fills onboarding.
        params["email"] = payee.contributor.email
    return params


def payout_account_ensure(
    *, payee: Payee, actor: Actor | None, country: str | None = None
) -> tuple[PayoutAccount, bool]:
    """The payee's payout account, creating its Stripe Express account the first time. Returns
    (account, created). At most one Stripe account per payee: the Stripe call is idempotent on a
    key derived from the payee row, and our row is unique per payee. No transaction is open
    during the Stripe call."""
    existing = PayoutAccount.objects.filter(payee=payee).first()
    if existing is not None:
        return existing, False
    with stripe_errors():
        remote = stripe_client().accounts.create(
            params=_account_params(payee, country),
            options={"idempotency_key": account_idempotency_key(payee)},
        )
    try:
        with transaction.atomic():
            account = PayoutAccount.objects.create(
                payee=payee,
                stripe_account_id=remote.id,
                details_submitted=bool(remote.get("details_submitted")),
                payouts_enabled=bool(remote.get("payouts_enabled")),
            )
            audit_record(
                actor=actor,
                organization=payee.organization,
                action="payout_account.create",
                obj=account,
                data={"payee": payee.pk, "stripeAccountId": remote.id},
            )
    except IntegrityError:
        # A concurrent request stored the same (idempotently created) account first.
        return PayoutAccount.objects.get(payee=payee), False
    return account, True


def onboarding_urls(payee: Payee) -> tuple[str, str]:
    """(refresh_url, return_url) of an onboarding link, under PUBLIC_BASE_URL."""
    base = settings.PUBLIC_BASE_URL
    path = (
        "/contributors/me/payout-account"
        if payee.kind == Payee.Kind.CONTRIBUTOR
        else "/payout-account"
    )
    return f"{base}{path}/refresh", f"{base}{path}/return"


def payout_account_onboarding_url(*, account: PayoutAccount) -> str:
    """A fresh Stripe AccountLink (they are single-use and expire within minutes)."""
    refresh_url, return_url = onboarding_urls(account.payee)
    with stripe_errors():
        link = stripe_client().account_links.create(
            params={
                "account": account.stripe_account_id,
                "type": "account_onboarding",
                "refresh_url": refresh_url,
                "return_url": return_url,
            }
        )
    return link.url


def payout_account_refresh(*, stripe_account_id: str) -> PayoutAccount | None:
    """Re-fetch a connected account from Stripe and store details_submitted / payouts_enabled.
    Idempotent; an account that is not ours is ignored (None) without calling Stripe. Stripe
    errors propagate, so a webhook event that hit one is retried."""
    if not PayoutAccount.objects.filter(stripe_account_id=stripe_account_id).exists():
        return None
    remote = stripe_client().accounts.retrieve(stripe_account_id)
    details_submitted = bool(remote.get("details_submitted"))
    payouts_enabled = bool(remote.get("payouts_enabled"))
    with transaction.atomic():
        account = (
            PayoutAccount.objects.select_for_update()
            .select_related("payee")
            .get(stripe_account_id=stripe_account_id)
        )
        before = {
            "detailsSubmitted": account.details_submitted,
            "payoutsEnabled": account.payouts_enabled,
        }
        after = {"detailsSubmitted": details_submitted, "payoutsEnabled": payouts_enabled}
        if before != after:
            account.details_submitted = details_submitted
            account.payouts_enabled = payouts_enabled
            account.save(update_fields=["details_submitted", "payouts_enabled", "updated_at"])
            audit_record(
                actor=None,
                organization=account.payee.organization,
                action="payout_account.update",
                obj=account,
                data={"before": before, "after": after},
            )
    return account


def stripe_account_updated_handle(event: StripeEvent) -> None:
    """Webhook handler for `account.updated` (registered in ContributorsConfig.ready())."""
    obj = (event.payload or {}).get("data", {}).get("object", {}) or {}
    account_id = obj.get("id") or (event.payload or {}).get("account")
    if not isinstance(account_id, str) or not account_id.startswith("acct_"):
        logger.warning("account.updated %s without an account id", event.event_id)
        return
    payout_account_refresh(stripe_account_id=account_id)


@dataclass(frozen=True)
class Onboarding:
    account: PayoutAccount
    url: str
    created: bool


def organization_payout_account_start(*, actor: Actor, country: str | None = None) -> Onboarding:
    """For an owner of the acting organisation: its payout account (created once) and a fresh
    onboarding link."""
    organization_owner_check(
        actor=actor, organization=actor.organization, action="set up the payout account"
    )
    payee = payee_for_organization(actor.organization)
    account, created = payout_account_ensure(payee=payee, actor=actor, country=country)
    return Onboarding(account, payout_account_onboarding_url(account=account), created)


def contributor_payout_account_start(
    *, actor: Actor, contributor: Contributor, country: str | None = None
) -> Onboarding:
    """For the user who claimed `contributor`: their own payout account and an onboarding link."""
    if contributor.user_id != actor.user.pk:
        raise Forbidden("This is not your contributor profile.", code="not_your_profile")
    payee = payee_for_contributor(contributor)
    account, created = payout_account_ensure(payee=payee, actor=actor, country=country)
    return Onboarding(account, payout_account_onboarding_url(account=account), created)
