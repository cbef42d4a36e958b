"""Our Stripe emulator for development and tests: localstripe plus what it lacks.

    python -m devtools.stripe_emulator --host 127.0.0.1 --port 8420

It serves localstripe's own aiohttp app (PaymentIntents, PaymentMethods, Charges, Refunds,
Customers, Events, webhooks, fake Stripe.js, ...), imported, not copied: localstripe is GPL-3.0.
Our code only adds what the marketplace needs and localstripe does not have:

- Connect (connect.py): Express `Account` (create, retrieve, update, list, delete),
  `AccountLink`, `Transfer` (create, retrieve, update, list by destination / transfer_group) and
  transfer reversals. Fields and errors follow Stripe's shapes, so stripe-python raises the same
  exceptions. Accounts start not onboarded; a transfer needs an onboarded destination.
- Refund events (`refund.created`, `charge.refunded`, `refund.updated`), refunds capped at what
  is left of the charge, and Disputes (`GET /v1/disputes[/{id}]`, `created` filters) with their
  events (disputes.py).
- `Idempotency-Key` replay for every POST under /v1/, localstripe's endpoints included
  (idempotency.py).
- Test-only switches and pages (no API key needed):
  - `POST /_emulator/accounts/{id}/complete_onboarding`: details_submitted, charges_enabled,
    payouts_enabled become true, capabilities active; fires `account.updated`.
  - `GET /_emulator/onboarding/{id}?return_url=...&refresh_url=...`: where AccountLink urls
    point; completes onboarding and redirects to return_url (`&outcome=refresh`: redirects to
    refresh_url instead, as for an expired link).
  - `POST /_emulator/charges/{id}/dispute` (reason, amount) opens a dispute;
    `POST /_emulator/disputes/{id}/close` (status=won|lost) closes it (disputes.py).
  - `DELETE /_emulator/webhooks[/{id}]`: unregister webhook endpoints (a lost webhook).
  - account metadata `emulator_fail_transfers=true`: transfers to that account fail with a 400
    `balance_insufficient` invalid_request_error.

Webhooks are localstripe's: `POST /_config/webhooks/{name}` with form fields url, secret and
optionally events[] (event types); events are signed with the secret like Stripe's. State lives
in memory, per process (`DELETE /_config/data` empties localstripe's store).
"""

# The app lives in .app (`create_app()`), imported on demand: importing this package, e.g. for
# .process, does not load localstripe.
