"""Refund events and disputes, which localstripe lacks.

Refunds: localstripe creates refunds silently. Like Stripe, `POST /v1/refunds` here sends
`refund.created`, `charge.refunded` (the charge with its refunds) and `refund.updated` (the
refund reaching its final status), signed like every event. A refund without an amount refunds
what is left of the charge; a larger one is refused as Stripe does (400, `amount`; `charge_already_refunded` when nothing is
left); Stripe's `reason` parameter is accepted. `GET /v1/refunds` and `GET /v1/balance/history`
accept Stripe's `created` filter (gt, gte, lt, lte), so reconciliation can read incrementally.

Disputes: `Dispute` objects (`dp_...`), retrievable (`GET /v1/disputes/{id}`) and listable
(`GET /v1/disputes`, filters `charge`, `payment_intent`, `created`). Stripe opens them; here the
test-only routes do (see app.py):
- `POST /_emulator/charges/{id}/dispute` (form: `reason`, default "fraudulent"; `amount`,
  default what is left of the charge): status `needs_response`; sends `charge.dispute.created`
  and, as Stripe withdraws the disputed amount at once, `charge.dispute.funds_withdrawn`, with
  a balance transaction of -amount and Stripe's 1500 dispute fee.
- `POST /_emulator/disputes/{id}/close` (form: `status` won | lost): sends
  `charge.dispute.closed`; on won also `charge.dispute.funds_reinstated` with a balance
  transaction giving the amount back (the dispute fee is not returned).
"""

from localstripe.errors import UserError
from localstripe.resources import (
    BalanceTransaction,
    Charge,
    Event,
    PaymentIntent,
    Refund,
    StripeObject,
    schedule_webhook,
)

from .connect import newest_first, positive_int, reject_unknown, stripe_error

DISPUTE_FEE = 1500
OPEN_STATUSES = ("needs_response", "under_review", "warning_needs_response", "warning_under_review")


def created_filter(created):
    """Stripe's `created` list filter ({"gt"|"gte"|"lt"|"lte": unix time} or a time) as a
    predicate on an object's `created`."""
    if created in (None, ""):
        return lambda obj: True
    if not isinstance(created, dict):
        created = {"eq": created}
    checks = []
    for op, value in created.items():
        try:
            value = int(value)
        except (TypeError, ValueError):
            raise stripe_error("Invalid integer", f"created[{op}]") from None
        compare = {
            "gt": lambda a, b: a > b,
            "gte": lambda a, b: a >= b,
            "lt": lambda a, b: a < b,
            "lte": lambda a, b: a <= b,
            "eq": lambda a, b: a == b,
        }.get(op)
        if compare is None:
            raise stripe_error(f"Invalid created filter: {op}", "created")
        checks.append((compare, value))
    return lambda obj: all(compare(obj.created, value) for compare, value in checks)


def _charge_of(charge=None, payment_intent=None):
    if payment_intent is not None:
        intent = PaymentIntent._api_retrieve(payment_intent)
        if intent.latest_charge is None:
            raise stripe_error("This PaymentIntent has no charge to refund.", "payment_intent")
        return intent.latest_charge
    if charge is None:
        raise stripe_error("Missing required param: charge.", "charge", "parameter_missing")
    return Charge._api_retrieve(charge)


# --- refunds --------------------------------------------------------------------------------


@classmethod
def _refund_create(cls, reason=None, **data):
    charge = _charge_of(data.get("charge"), data.get("payment_intent"))
    left = charge.amount - charge.amount_refunded - _disputed_amount(charge)
    if left <= 0:
        raise stripe_error(
            f"Charge {charge.id} has already been refunded.", code="charge_already_refunded"
        )
    amount = data.get("amount")
    if amount is None:
        data["amount"] = left  # like Stripe: what is left of the charge, not its whole amount
    elif positive_int(amount, "amount") > left:
        raise stripe_error(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
            "amount",
            "amount_too_large",
        )
    refund = cls(**data)
    refund.reason = reason
    schedule_webhook(Event("refund.created", refund))
    schedule_webhook(Event("charge.refunded", charge))
    schedule_webhook(Event("refund.updated", refund))
    return refund


@classmethod
def _refund_list(cls, url, charge=None, payment_intent=None, created=None, **kwargs):
    li = _original_refund_list.__func__(
        cls, url, charge=charge, payment_intent=payment_intent, **kwargs
    )
    keep = created_filter(created)
    li._list = [r for r in li._list if keep(r)]
    return li


@classmethod
def _balance_list(cls, url, limit=None, starting_after=None, created=None, type=None, **kwargs):
    reject_unknown(kwargs)
    keep = created_filter(created)
    return newest_first(
        cls, url, limit, starting_after, lambda t: keep(t) and type in (None, t.type)
    )


_original_refund_list = Refund._api_list_all


# --- disputes -------------------------------------------------------------------------------


def _dispute_txn(dispute, amount, fee, description):
    """A balance transaction of a dispute (localstripe's own accept only charges and refunds)."""
    txn = BalanceTransaction.__new__(BalanceTransaction)
    StripeObject.__init__(txn)
    txn.amount = amount
    txn.available_on = txn.created
    txn.currency = dispute.currency
    txn.description = description
    txn.exchange_rate = None
    txn.fee = fee
    txn.fee_details = (
        [
            {
                "amount": fee,
                "currency": dispute.currency,
                "description": "Dispute fee",
                "type": "stripe_fee",
            }
        ]
        if fee
        else []
    )
    txn.reporting_category = "dispute" if amount < 0 else "dispute_reversal"
    txn.source = dispute.id
    txn.status = "available"
    txn.type = "adjustment"
    return txn


def _disputed_amount(charge):
    """What a lost or still open dispute took out of the charge."""
    return sum(d.amount for d in Dispute._of_charge(charge.id) if d.status != "won")


class Dispute(StripeObject):
    object = "dispute"
    _id_prefix = "dp_"

    def __init__(self, charge, amount, reason):
        super().__init__()
        self.charge = charge.id
        self.payment_intent = charge.payment_intent
        self.amount = amount
        self.currency = charge.currency
        self.reason = reason
        self.status = "needs_response"
        self.is_charge_refundable = False
        self.metadata = {}
        self.evidence = {}
        self.evidence_details = {"due_by": self.created + 7 * 86400, "has_evidence": False}
        self.balance_transactions = [
            _dispute_txn(self, -amount, DISPUTE_FEE, f"Chargeback withdrawal for {charge.id}")
        ]

    @classmethod
    def _of_charge(cls, charge_id):
        return newest_first(cls, "", None, None, lambda d: d.charge == charge_id)._list

    @classmethod
    def _api_create(cls, **data):
        raise UserError(405, "Method Not Allowed")

    @classmethod
    def _api_update(cls, id, metadata=None, **data):
        dispute = cls._api_retrieve(id)
        if metadata:
            dispute.metadata = {**dispute.metadata, **metadata}
        schedule_webhook(Event("charge.dispute.updated", dispute))
        return dispute

    @classmethod
    def _api_delete(cls, id):
        raise UserError(405, "Method Not Allowed")

    @classmethod
    def _api_retrieve(cls, id):
        dispute = super()._api_retrieve(id) if id else None
        if dispute is None:
            raise stripe_error(f"No such dispute: '{id}'", "id", "resource_missing", 404)
        return dispute

    @classmethod
    def _api_list_all(
        cls,
        url,
        charge=None,
        payment_intent=None,
        created=None,
        limit=None,
        starting_after=None,
        **kwargs,
    ):
        reject_unknown(kwargs)
        keep = created_filter(created)
        return newest_first(
            cls,
            url,
            limit,
            starting_after,
            lambda d: keep(d)
            and charge in (None, d.charge)
            and payment_intent in (None, d.payment_intent),
        )

    @classmethod
    def _emulator_open(cls, charge_id, reason=None, amount=None):
        charge = Charge._api_retrieve(charge_id)
        if charge.status != "succeeded":
            raise stripe_error(f"Charge {charge_id} was not paid.", "charge")
        if any(d.status in OPEN_STATUSES for d in cls._of_charge(charge_id)):
            raise stripe_error(f"Charge {charge_id} already has an open dispute.", "charge")
        left = charge.amount - charge.amount_refunded - _disputed_amount(charge)
        amount = positive_int(amount, "amount", required=False) or left
        if amount > left or left <= 0:
            raise stripe_error(f"Charge {charge_id} has only {left} left to dispute.", "amount")
        dispute = cls(charge, amount, reason or "fraudulent")
        schedule_webhook(Event("charge.dispute.created", dispute))
        schedule_webhook(Event("charge.dispute.funds_withdrawn", dispute))
        return dispute

    @classmethod
    def _emulator_close(cls, id, status=None):
        dispute = cls._api_retrieve(id)
        if status not in ("won", "lost"):
            raise stripe_error("status must be won or lost", "status")
        if dispute.status not in OPEN_STATUSES:
            raise stripe_error(f"Dispute {id} is already closed ({dispute.status}).", "status")
        dispute.status = status
        if status == "won":
            dispute.balance_transactions = [
                *dispute.balance_transactions,
                _dispute_txn(
                    dispute, dispute.amount, 0, f"Chargeback reversal for {dispute.charge}"
                ),
            ]
            schedule_webhook(Event("charge.dispute.funds_reinstated", dispute))
        schedule_webhook(Event("charge.dispute.closed", dispute))
        return dispute


def install() -> None:
    Refund._api_create = _refund_create
    Refund._api_list_all = _refund_list
    BalanceTransaction._api_list_all = _balance_list
