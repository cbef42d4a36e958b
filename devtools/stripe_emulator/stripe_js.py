"""A Stripe.js stand-in for the emulator: `Stripe(pk)`, `stripe.elements({clientSecret})`, the
Payment Element (a card form) and `stripe.confirmPayment`, served at `/js.stripe.com/v3/` where
`STRIPE_JS_URL` points in development and tests. localstripe's own script there only offers the
legacy card elements.

`confirmPayment` posts to one endpoint of ours (publishable key + client secret, as Stripe.js
authenticates): it creates the card's PaymentMethod, sets it on the PaymentIntent and confirms
it, the same calls a server makes (tests/licensing/test_orders.py::pay), so the PaymentIntent's
webhooks fire as for any payment. A decline answers Stripe's error shape with its message. The
browser's page is on another origin: localstripe answers every request with CORS headers for the
request's Origin, and the form-encoded POST needs no preflight."""

from pathlib import Path

from aiohttp import web
from localstripe import server as localstripe
from localstripe.errors import UserError
from localstripe.resources import PaymentIntent, PaymentMethod

SCRIPT = Path(__file__).with_name("stripe-js-v3.js")
SCRIPT_PATH = "/js.stripe.com/v3/"
CONFIRM_PATH = "/_emulator/stripe_js/payment_intents/{id}/confirm"


@web.middleware
async def stripe_js_middleware(request, handler):
    """Our stand-in instead of localstripe's script (its route is registered first)."""
    if request.method == "GET" and request.path in (SCRIPT_PATH, SCRIPT_PATH.rstrip("/")):
        return web.Response(
            text=SCRIPT.read_text(),
            content_type="application/javascript",
            headers={"Cache-Control": "no-store"},
        )
    return await handler(request)


def _error(status: int, message: str, **contents) -> web.Response:
    body = {"error": {"type": contents.pop("type", "invalid_request_error"), "message": message}}
    body["error"].update(contents)
    return localstripe.json_response(body, status=status)


async def _confirm(request):
    """`POST .../payment_intents/{id}/confirm` with `key` (pk_), `client_secret` and the card
    (`card[number]`, `card[exp_month]`, `card[exp_year]`, `card[cvc]`): the PaymentIntent, or
    Stripe's error (402 card_error for a decline)."""
    data = dict(await localstripe.get_post_data(request, remove_auth=False) or {})
    key = data.get("key")
    if not isinstance(key, str) or not key.startswith("pk_"):
        return _error(401, "Invalid API Key provided: use a publishable key (pk_...).")
    try:
        intent = PaymentIntent._api_retrieve(request.match_info["id"])
    except UserError as exc:
        return exc.to_response()
    if data.get("client_secret") != intent.client_secret:
        return _error(400, "The client_secret does not match this PaymentIntent.")
    if intent.status not in ("requires_payment_method", "requires_confirmation"):
        return _error(
            400,
            f"This PaymentIntent's status is {intent.status}; it cannot be confirmed again.",
            code="payment_intent_unexpected_state",
        )
    card = data.get("card") if isinstance(data.get("card"), dict) else {}
    number = "".join(str(card.get("number", "")).split())
    try:
        method = PaymentMethod(
            type="card",
            card={
                "number": number,
                "exp_month": card.get("exp_month"),
                "exp_year": card.get("exp_year"),
                "cvc": str(card.get("cvc", "")),
            },
        )
    except UserError:
        return _error(
            402,
            "Your card details are incomplete or invalid.",
            type="card_error",
            code="incorrect_number",
        )
    if method._attaching_is_declined():
        # Stripe's decline test cards (4000 0000 0000 0002, ...) decline the charge at Stripe;
        # localstripe declines them only when attached to a customer.
        method._charging_is_declined = lambda: True
    # A new attempt after a declined one: the new card replaces the failed charge's.
    intent.payment_method = method.id
    intent.latest_charge = None
    try:
        intent._confirm(on_failure_now=intent._report_failure)
    except UserError as exc:
        error = dict(exc.body.get("error") or {})
        error.update(type="card_error", payment_intent=intent._export())
        error.setdefault("decline_code", "generic_decline")
        return localstripe.json_response({"error": error}, status=exc.code)
    return localstripe.json_response(intent._export())


def routes():
    yield "POST", CONFIRM_PATH, _confirm
