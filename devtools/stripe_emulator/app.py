"""localstripe's own aiohttp app, extended with our routes and middleware (see __init__.py)."""

from aiohttp import web
from localstripe import server as localstripe
from localstripe import webhooks as localstripe_webhooks
from localstripe.resources import store

from .connect import Account, Transfer, account_link
from .disputes import Dispute
from .idempotency import idempotency_middleware
from .stripe_js import routes as stripe_js_routes
from .stripe_js import stripe_js_middleware


def _api(func):
    """A handler calling `func(**params, **path parameters)` and exporting the object it returns."""

    async def handler(request):
        data = dict(await localstripe.get_post_data(request) or {})
        data.update(localstripe.unflatten_data(request.query) or {})
        data.update(request.match_info)
        expand = data.pop("expand", None)
        return localstripe.json_response(func(**data)._export(expand=expand))

    return handler


async def _account_link_create(request):
    data = await localstripe.get_post_data(request) or {}
    base_url = f"{request.scheme}://{request.host}"
    return localstripe.json_response(account_link(base_url, **data))


async def _complete_onboarding(request):
    """Test-only: the account finishes onboarding (fires `account.updated`)."""
    account = Account._api_retrieve(request.match_info["id"])
    return localstripe.json_response(account._complete_onboarding()._export())


async def _onboarding_page(request):
    """Where an AccountLink points. Visiting it completes onboarding and redirects to return_url;
    with `outcome=refresh` it changes nothing and redirects to refresh_url (an expired link)."""
    account = Account._api_retrieve(request.match_info["id"])
    if request.query.get("outcome") == "refresh":
        target = request.query.get("refresh_url")
    else:
        account._complete_onboarding()
        target = request.query.get("return_url")
    if target:
        raise web.HTTPFound(target)
    return web.Response(text=f"Emulated onboarding of {account.id}: done.\n")


async def _dispute_open(request):
    """Test-only: the buyer's bank disputes a charge (see disputes.py)."""
    data = dict(await localstripe.get_post_data(request) or {})
    dispute = Dispute._emulator_open(
        request.match_info["id"], reason=data.get("reason"), amount=data.get("amount")
    )
    return localstripe.json_response(dispute._export())


async def _dispute_close(request):
    """Test-only: the dispute is decided (`status` won or lost)."""
    data = dict(await localstripe.get_post_data(request) or {})
    dispute = Dispute._emulator_close(request.match_info["id"], status=data.get("status"))
    return localstripe.json_response(dispute._export())


async def _webhook_remove(request):
    """Test-only: unregister one webhook endpoint (`DELETE /_emulator/webhooks/{id}`) or all of
    them (`DELETE /_emulator/webhooks`): events then reach nobody, as when an endpoint is
    disabled at Stripe."""
    name = request.match_info.get("id")
    if name is None:
        localstripe_webhooks._webhooks.clear()
    else:
        localstripe_webhooks._webhooks.pop(name, None)
    return web.Response(status=204)


@web.middleware
async def auth_middleware(request, handler):
    """localstripe's API-key check, except for our test-only pages (opened by a browser)."""
    if request.path.startswith("/_emulator/"):
        return await handler(request)
    return await localstripe.auth_middleware(request, handler)


def _routes():
    c = localstripe
    yield "POST", "/v1/accounts", c.api_create(Account, "/v1/accounts")
    yield "GET", "/v1/accounts", c.api_list_all(Account, "/v1/accounts")
    yield "GET", "/v1/accounts/{id}", c.api_retrieve(Account, "/v1/accounts/{id}")
    yield "POST", "/v1/accounts/{id}", c.api_update(Account, "/v1/accounts/{id}")
    yield "DELETE", "/v1/accounts/{id}", c.api_delete(Account, "/v1/accounts/{id}")
    yield "POST", "/v1/account_links", _account_link_create
    yield "POST", "/v1/transfers", c.api_create(Transfer, "/v1/transfers")
    yield "GET", "/v1/transfers", c.api_list_all(Transfer, "/v1/transfers")
    yield "GET", "/v1/transfers/{id}", c.api_retrieve(Transfer, "/v1/transfers/{id}")
    yield "POST", "/v1/transfers/{id}", c.api_update(Transfer, "/v1/transfers/{id}")
    yield "POST", "/v1/transfers/{id}/reversals", _api(Transfer._api_create_reversal)
    yield "GET", "/v1/transfers/{id}/reversals", _api(Transfer._api_list_reversals)
    yield (
        "GET",
        "/v1/transfers/{id}/reversals/{reversal_id}",
        _api(Transfer._api_retrieve_reversal),
    )
    yield "GET", "/v1/disputes", c.api_list_all(Dispute, "/v1/disputes")
    yield "GET", "/v1/disputes/{id}", c.api_retrieve(Dispute, "/v1/disputes/{id}")
    yield "POST", "/v1/disputes/{id}", c.api_update(Dispute, "/v1/disputes/{id}")
    yield "POST", "/_emulator/charges/{id}/dispute", _dispute_open
    yield "POST", "/_emulator/disputes/{id}/close", _dispute_close
    yield "DELETE", "/_emulator/webhooks", _webhook_remove
    yield "DELETE", "/_emulator/webhooks/{id}", _webhook_remove
    yield "POST", "/_emulator/accounts/{id}/complete_onboarding", _complete_onboarding
    yield "GET", "/_emulator/onboarding/{id}", _onboarding_page
    yield from stripe_js_routes()  # the Stripe.js stand-in's confirmPayment


_installed = False


def create_app() -> web.Application:
    """localstripe's app with our additions. Its store is process-global, so there is one app
    per process: later calls return the same app."""
    global _installed
    from . import disputes, fees

    fees.install()
    disputes.install()
    app = localstripe.app
    if not _installed:
        # In memory only: localstripe would otherwise pickle its whole store to a fixed
        # /tmp/localstripe.pickle on every write, shared by every emulator on the machine.
        store.dump_to_disk = lambda: None
        middlewares = app.middlewares
        position = middlewares.index(localstripe.auth_middleware)
        middlewares[position] = auth_middleware
        middlewares.insert(position + 1, idempotency_middleware)  # after auth, like Stripe
        middlewares.insert(position, stripe_js_middleware)  # our Stripe.js, not localstripe's
        for method, path, handler in _routes():
            app.router.add_route(method, path, handler)
        _installed = True
    return app
