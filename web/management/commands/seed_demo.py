"""Idempotent demo data, so every page of the site has something to show after `make run`.

- People: a staff admin (superuser) and one staff user per staff group (reviewer, finance,
  support); the owners of a provider organisation approved for uploads and of a
  buyer organisation, each with a web sign-in (verified e-mail, password) and an API key; a
  contributor (web sign-in, an organisation of their own) who claimed their revenue share.
- Catalogue (marketplace.demo_data): three published datasets (public free, restricted, paid)
  and the provider's submissions in review, rejected with a reviewer's note, and a draft.
- History: the paid dataset's revenue shares (the provider 60 %, the contributor 40 %); a sale
  of it to each of the buyer's two organisations through the order flow against the Stripe
  emulator, one partially refunded; their holds released; the payout accounts of the provider
  and of the contributor onboarded, and one completed payout run; the buyer's access request to
  the restricted dataset, left pending.

Everything goes through the services. Each part is looked up by its natural key first and made
only when it is missing, so a re-run changes nothing and calls Stripe for nothing that is done
(moto and the emulator keep their state in memory: after a restart the demo archives are put
back in storage, and finished history needs neither). Credentials and dataset ids are written to
var/demo.env as KEY=value lines. Secrets cannot be read back from the database (keys are hashed),
so a re-run reuses the values in the existing demo.env when they still work and issues new ones
otherwise."""

import secrets
from dataclasses import dataclass
from pathlib import Path

import requests
import stripe
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from contributors.models import Contributor, Payee, ShareLine
from contributors.selectors import payout_account_of_contributor, payout_account_of_organization
from contributors.services.invitations import contributor_claim, contributor_invite_issue
from contributors.services.payees import payee_for_contributor, payee_for_organization
from contributors.services.payout_accounts import (
    Onboarding,
    contributor_payout_account_start,
    organization_payout_account_start,
    payout_account_refresh,
)
from contributors.services.shares import share_table_set
from licensing.models import AccessRequest, Order, TermsAcceptance
from licensing.selectors import dataset_terms, terms_acceptance_latest
from licensing.services.access_requests import access_request_create
from licensing.services.orders import order_create, order_payment_sync
from licensing.services.terms import terms_accept
from marketplace.actors import Actor, actor_for_key, actor_for_member
from marketplace.demo_data import demo_datasets_ensure, demo_submissions_ensure
from marketplace.models import ApiKey, Dataset, Organization, User
from marketplace.payments import stripe_client
from marketplace.services.errors import ServiceError
from marketplace.services.identity import (
    api_key_create,
    api_key_hash,
    api_key_parse,
    organization_create,
    organization_decide_upload_access,
    user_create,
)
from payouts.models import MICRO_PER_CENT, PayoutLine
from payouts.services import payee_balances, refund_window, sale_hold_release, sales_due_for_release
from payouts.services.runs import (
    payout_run_create,
    payout_run_execute,
    payout_runs_open,
    payout_thresholds,
)

ADMIN = "admin"
# (variable prefix, username, staff groups, superuser): the demo's staff. `admin` may do
# everything; each of the others only its group's job in the admin (README, Staff roles).
STAFF = (
    ("ADMIN", ADMIN, (), True),
    ("REVIEWER", "reviewer", ("reviewer",), False),
    ("FINANCE", "finance", ("finance",), False),
    ("SUPPORT", "support", ("support",), False),
)

# (variable prefix, organisation name, slug, username, gets an API key)
PEOPLE = (
    ("PROVIDER", "Demo Voices Provider", "demo-provider", "provider", True),
    ("BUYER", "Demo Buyer Lab", "demo-buyer", "buyer", True),
    ("CONTRIBUTOR", "Demo Contributor Studio", "demo-contributor", "contributor", False),
)
CONTRIBUTOR_NAME = "Demo Contributor"
# The buyer's second organisation: an organisation holds at most one active grant of a dataset,
# so a second sale of the paid dataset needs a second buying organisation.
BUYER_SECOND_ORG = ("Demo Buyer Research", "demo-buyer-research")
# (buying organisation's slug, the order's Idempotency-Key, cents refunded afterwards)
SALES = (
    ("demo-buyer", "demo-sale-1", 1000),
    ("demo-buyer-research", "demo-sale-2", 0),
)
INTENDED_USE = (
    "Evaluating a speech recogniser for clinical dictation before licensing it; the recordings "
    "stay on our own servers."
)


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                k, _, v = line.partition("=")
                values[k.strip()] = v.strip()
    return values


def write_env_file(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    tmp.chmod(0o600)
    tmp.replace(path)


def _web_login_ensure(user: User, password: str | None) -> str:
    """A password the web sign-in accepts (the previous one when it still works) and the user's
    e-mail address verified, so the demo users can sign in at /accounts/login/ at once."""
    if not password or not user.check_password(password):
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return password


def _valid_key(raw: str | None, org: Organization) -> bool:
    parsed = api_key_parse(raw or "")
    if not parsed:
        return False
    key = ApiKey.objects.filter(prefix=parsed[0], organization=org, revoked_at__isnull=True).first()
    return key is not None and key.key_hash == api_key_hash(raw)


def _member(username: str, slug: str) -> Actor:
    """A demo person acting in the web UI for one of their organisations."""
    return actor_for_member(
        user=User.objects.get(username=username),
        organization=Organization.objects.get(slug=slug),
    )


def _card_payment(payment_intent_id: str) -> None:
    """What Stripe.js does in the buyer's browser: attach a test card and confirm."""
    client = stripe_client()
    if client.payment_intents.retrieve(payment_intent_id).status != "succeeded":
        client.payment_intents.update(payment_intent_id, params={"payment_method": "pm_card_visa"})
        client.payment_intents.confirm(payment_intent_id)


def _onboarding_complete(onboarding: Onboarding) -> None:
    """What the payee does on Stripe's onboarding page (the emulator completes it when the link
    is opened), then what the `account.updated` webhook does."""
    requests.get(onboarding.url, allow_redirects=False, timeout=10).raise_for_status()
    payout_account_refresh(stripe_account_id=onboarding.account.stripe_account_id)


@dataclass(frozen=True)
class Cast:
    admin: User
    provider: Actor  # the owner, acting in the web UI
    buyer: Actor
    contributor: Actor


class Command(BaseCommand):
    help = "Create or refresh the demo data and write var/demo.env."

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(settings.BASE_DIR / "var" / "demo.env"))

    def handle(self, *args, output, **options):
        path = Path(output)
        previous = read_env_file(path)
        values: dict[str, str] = {"MDC_API_URL": f"{settings.PUBLIC_BASE_URL}/api"}
        with transaction.atomic():
            values.update(self._identities(previous))
        values.update(self.extra_demo_values(previous, values))
        write_env_file(path, values)
        self.stdout.write(f"demo data ready; credentials in {path}")

    def _identities(self, previous: dict[str, str]) -> dict[str, str]:
        out = {}
        for role, username, groups, superuser in STAFF:
            user = User.objects.filter(username=username).first()
            password = previous.get(f"DEMO_{role}_PASSWORD")
            if user is None:
                password = password or secrets.token_urlsafe(12)
                user = user_create(
                    username=username,
                    email=f"{username}@example.com",
                    password=password,
                    is_staff=True,
                    groups=groups,
                    is_superuser=superuser,
                )
            elif not password or not user.check_password(password):
                password = secrets.token_urlsafe(12)
                user.set_password(password)
                user.save(update_fields=["password"])
            out[f"DEMO_{role}_USERNAME"] = username
            out[f"DEMO_{role}_PASSWORD"] = password
        admin = User.objects.get(username=ADMIN)

        for role, org_name, slug, username, with_key in PEOPLE:
            user = User.objects.filter(username=username).first() or user_create(
                username=username, email=f"{username}@example.com"
            )
            out[f"DEMO_{role}_EMAIL"] = user.email
            out[f"DEMO_{role}_PASSWORD"] = _web_login_ensure(
                user, previous.get(f"DEMO_{role}_PASSWORD")
            )
            org = Organization.objects.filter(slug=slug).first() or organization_create(
                name=org_name, owner=user, slug=slug
            )
            if role == "PROVIDER" and org.upload_access != Organization.UploadAccess.APPROVED:
                organization_decide_upload_access(organization=org, approve=True, actor=admin)
            if not with_key:
                continue
            var = f"DEMO_{role}_API_KEY"
            raw = previous.get(var)
            if not _valid_key(raw, org):
                raw = api_key_create(
                    actor=actor_for_member(user=user, organization=org), name="demo"
                ).secret
            out[var] = raw
        # Made after Demo Buyer Lab, which stays the organisation the buyer signs in to.
        name, slug = BUYER_SECOND_ORG
        if not Organization.objects.filter(slug=slug).exists():
            organization_create(name=name, owner=User.objects.get(username="buyer"), slug=slug)
        return out

    def extra_demo_values(self, previous: dict[str, str], values: dict[str, str]) -> dict[str, str]:
        """The catalogue (published through the provider's key, the way the SDK publishes) and
        the history around it; returns the demo dataset ids and the Stripe emulator's address."""
        prefix = api_key_parse(values["DEMO_PROVIDER_API_KEY"])[0]
        provider_key = ApiKey.objects.select_related("organization", "user").get(prefix=prefix)
        cast = Cast(
            admin=User.objects.get(username=ADMIN),
            provider=_member("provider", "demo-provider"),
            buyer=_member("buyer", "demo-buyer"),
            contributor=_member("contributor", "demo-contributor"),
        )
        publisher = actor_for_key(provider_key)
        out = demo_datasets_ensure(provider=publisher, reviewer=cast.admin)
        demo_submissions_ensure(provider=publisher, reviewer=cast.admin)
        datasets = Dataset.objects.select_related("latest_version", "organization")
        self._history(
            cast,
            paid=datasets.get(public_id=out["DEMO_PAID_DATASET_ID"]),
            restricted=datasets.get(public_id=out["DEMO_RESTRICTED_DATASET_ID"]),
        )
        # So a client can confirm a PaymentIntent with a test card, as Stripe.js would.
        out["STRIPE_API_BASE"] = settings.STRIPE_API_BASE
        out["STRIPE_SECRET_KEY"] = settings.STRIPE_SECRET_KEY
        return out

    def _skipped(self, what: str, exc: Exception) -> None:
        """A part the services or Stripe refused (say, a pending demo order whose PaymentIntent
        the restarted emulator no longer knows): said, and the rest of the demo still made."""
        self.stderr.write(f"seed_demo: {what} skipped: {exc}")

    def _history(self, cast: Cast, *, paid: Dataset, restricted: Dataset) -> None:
        contributor = self._contributor_claimed(cast, dataset=paid)
        payees = [payee_for_organization(paid.organization)]
        if contributor is not None:
            payees.append(payee_for_contributor(contributor))
        self._payout_accounts(cast, contributor=contributor)
        orders = [
            order
            for slug, key, refund_cents in SALES
            if (order := self._sale(_member("buyer", slug), paid, key, refund_cents))
        ]
        self._holds_released(orders)
        self._payout_run(cast.admin, payees=payees, currency=paid.currency or "usd")
        if not AccessRequest.objects.filter(
            dataset=restricted, organization=cast.buyer.organization
        ).exists():
            access_request_create(
                actor=cast.buyer,
                dataset=restricted,
                name="Demo Buyer",
                organization_name=cast.buyer.organization.name,
                intended_use=INTENDED_USE,
            )

    def _contributor_claimed(self, cast: Cast, *, dataset: Dataset) -> Contributor | None:
        """The contributor named in the paid dataset's share table, claimed by the demo
        contributor: the claim token is handed to this command instead of e-mailed."""
        email = cast.contributor.user.email
        if not ShareLine.objects.filter(table__dataset=dataset, payee__contributor__email=email):
            share_table_set(
                actor=cast.provider,
                dataset=dataset,
                basis="percentage",
                shares=[
                    {"organization": True, "percent": "60.00"},
                    {"email": email, "name": CONTRIBUTOR_NAME, "percent": "40.00"},
                ],
            )
        contributor = Contributor.objects.get(email=email)
        if contributor.user_id is None:
            issued = contributor_invite_issue(
                contributor_id=contributor.pk, delivered=True, organization=dataset.organization
            )
            if issued is not None:
                contributor = contributor_claim(token=issued[1], user=cast.contributor.user)
        if contributor.user_id != cast.contributor.user.pk:
            self._skipped(f"claim of {email}", ValueError("claimed by another account"))
            return None
        return contributor

    def _payout_accounts(self, cast: Cast, *, contributor: Contributor | None) -> None:
        """The provider's and the contributor's payout accounts, onboarded on the emulator."""
        starts = []
        account = payout_account_of_organization(cast.provider.organization)
        if account is None or not account.payouts_enabled:
            starts.append(lambda: organization_payout_account_start(actor=cast.provider))
        if contributor is not None:
            account = payout_account_of_contributor(contributor)
            if account is None or not account.payouts_enabled:
                starts.append(
                    lambda: contributor_payout_account_start(
                        actor=cast.contributor, contributor=contributor
                    )
                )
        for start in starts:
            try:
                _onboarding_complete(start())
            except (ServiceError, stripe.StripeError, requests.RequestException) as exc:
                self._skipped("payout account onboarding", exc)

    def _sale(self, buyer: Actor, dataset: Dataset, key: str, refund_cents: int) -> Order | None:
        """One sale through the order flow: terms accepted, the order (its Idempotency-Key makes
        it once), paid with a test card on the emulator and synced from Stripe, as the webhook
        handler does; then the partial refund, if any, made on the emulator and synced."""
        order = Order.objects.filter(organization=buyer.organization, idempotency_key=key).first()
        try:
            if order is None or order.status in (Order.Status.PENDING, Order.Status.FAILED):
                terms = dataset_terms(dataset)
                if not terms_acceptance_latest(
                    organization=buyer.organization, dataset=dataset, terms_hash=terms.hash
                ):
                    terms_accept(
                        actor=buyer,
                        dataset=dataset,
                        terms_hash=terms.hash,
                        via=TermsAcceptance.Via.WEB,
                    )
                order = order_create(actor=buyer, dataset_id=dataset.public_id, idempotency_key=key)
                _card_payment(order.payment_intent_id)
                order = order_payment_sync(payment_intent_id=order.payment_intent_id)
            if refund_cents and order.status == Order.Status.PAID and not order.refunded_cents:
                stripe_client().refunds.create(
                    params={"payment_intent": order.payment_intent_id, "amount": refund_cents},
                    options={"idempotency_key": f"demo-refund:{order.public_id}"},
                )
                order = order_payment_sync(payment_intent_id=order.payment_intent_id)
        except (ServiceError, stripe.StripeError) as exc:
            self._skipped(f"sale {key}", exc)
        return order if order is not None and order.paid_at else None

    def _holds_released(self, orders: list[Order]) -> None:
        """Only the demo sales' holds, as if their refund window had passed; a sale the demo
        user makes keeps its hold for the real window."""
        later = timezone.now() + refund_window()
        keys = [f"sale:{order.public_id}" for order in orders]
        for sale in sales_due_for_release(now=later).filter(idempotency_key__in=keys):
            sale_hold_release(sale=sale, now=later)

    def _payout_run(self, admin: User, *, payees: list[Payee], currency: str) -> None:
        """One payout run that pays the demo payees: an open one (the seed stopped half-way) is
        executed again; a new one is made only while no run has paid them and one of them is
        owed at least the threshold."""
        for run in payout_runs_open().filter(lines__payee__in=payees).distinct():
            payout_run_execute(run=run, actor=admin)
        if PayoutLine.objects.filter(payee__in=payees).exists():
            return
        threshold = payout_thresholds().get(currency, 0) * MICRO_PER_CENT
        owed = [payee_balances(payee_id=p.pk).get(currency) for p in payees]
        if not threshold or not any(b is not None and b.available >= threshold for b in owed):
            return
        run = payout_run_create(currency=currency, actor=admin)
        payout_run_execute(run=run, actor=admin)
