"""The Stripe side of a payout line: make (or find again) its transfer. Called with no database
transaction open."""

from __future__ import annotations

import stripe

from marketplace.observability.request_id import stripe_request_metadata
from payouts.models import PayoutLine, PayoutRun


class _Unavailable(Exception):
    """Stripe could not be reached or asked us to retry: the line goes back to pending."""


def _transfer_params(line: PayoutLine, run: PayoutRun) -> dict:
    return {
        "amount": line.amount_cents,
        "currency": line.currency,
        "destination": line.destination,
        "transfer_group": run.transfer_group,
        "metadata": {
            "payout_line": str(line.pk),
            "payout_run": str(run.pk),
            **stripe_request_metadata(line.idempotency_key),
        },
    }


def _transfer_find(line: PayoutLine, run: PayoutRun, client) -> stripe.Transfer | None:
    """The transfer a previous attempt made for this line, if any (by transfer_group and our
    metadata): covers a crash after Stripe made it, even once Stripe has forgotten the key."""
    listing = client.transfers.list(params={"transfer_group": run.transfer_group, "limit": 100})
    for transfer in listing.auto_paging_iter():
        if (transfer.get("metadata") or {}).get("payout_line") == str(line.pk):
            return transfer
    return None


def _transfer_send(line: PayoutLine, run: PayoutRun, client) -> stripe.Transfer:
    """Make (or find) the line's transfer. No database transaction is open here. Raises
    _Unavailable when Stripe cannot answer now, stripe.StripeError when it refused."""
    try:
        if line.attempts > 1:
            found = _transfer_find(line, run, client)
            if found is not None:
                return found
        return client.transfers.create(
            params=_transfer_params(line, run),
            options={"idempotency_key": line.idempotency_key},
        )
    except (
        stripe.APIConnectionError,
        stripe.RateLimitError,
        stripe.APIError,
        stripe.IdempotencyError,  # a concurrent request with the key is still running
        stripe.AuthenticationError,
    ) as exc:
        raise _Unavailable(str(exc)) from exc


def _transfer_check(line: PayoutLine, run: PayoutRun, transfer) -> None:
    expected = (line.amount_cents, line.currency, line.destination, run.transfer_group)
    actual = (transfer.amount, transfer.currency, transfer.destination, transfer.transfer_group)
    if actual != expected:
        # Never record a transfer that is not this line's; reconciliation will show it.
        raise RuntimeError(f"transfer {transfer.id} is {actual}, line {line.pk} is {expected}")
