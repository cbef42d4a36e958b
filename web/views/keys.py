"""API keys of the organisation: create (the secret shown once, on the response to the POST,
never stored or redirected), list, revoke. An owner sees and revokes every key."""

import secrets

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from marketplace.services.errors import ServiceError
from marketplace.services.identity import (
    api_key_create,
    api_key_get,
    api_key_revoke,
    api_keys_visible,
)
from web.decorators import actor_required
from web.forms import ApiKeyForm

# The create form's one-time tokens, the last few (several tabs may be open). Reloading the page
# that shows a new secret sends its POST again: its token is spent, so no second key is created
# that nobody ever sees.
FORM_TOKENS_SESSION_KEY = "web.api_key_form_tokens"
FORM_TOKENS_KEPT = 10


def _blank_form(request) -> ApiKeyForm:
    token = secrets.token_urlsafe(16)
    kept = request.session.get(FORM_TOKENS_SESSION_KEY, [])[-(FORM_TOKENS_KEPT - 1) :]
    request.session[FORM_TOKENS_SESSION_KEY] = [*kept, token]
    return ApiKeyForm(initial={"once": token})


def _spend(request, token: str) -> bool:
    """False when the token was already used (or never issued to this session)."""
    tokens = request.session.get(FORM_TOKENS_SESSION_KEY, [])
    if token not in tokens:
        return False
    tokens.remove(token)
    request.session[FORM_TOKENS_SESSION_KEY] = tokens
    return True


def _page(request, *, form, issued=None, status=200):
    actor = request.actor
    keys = api_keys_visible(actor=actor, every=actor.is_owner).order_by("revoked_at", "-created_at")
    return render(
        request,
        "web/keys.html",
        {"keys": keys, "form": form, "issued": issued},
        status=status,
    )


@actor_required
@require_http_methods(["GET", "POST"])
def keys_page(request):
    if request.method == "GET":
        return _page(request, form=_blank_form(request))
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    token = form.cleaned_data["once"]
    if token and not _spend(request, token):
        messages.info(
            request,
            "That key was already created and its secret shown once. If you did not copy it, "
            "revoke it and create another.",
        )
        return redirect("web:keys")
    issued = api_key_create(actor=request.actor, name=form.cleaned_data["name"])
    return _page(request, form=_blank_form(request), issued=issued, status=201)


@actor_required
@require_POST
def key_revoke(request, key_id: int):
    try:
        key = api_key_get(actor=request.actor, key_id=key_id)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("web:keys")
    api_key_revoke(key=key, actor=request.actor)
    messages.success(request, f"Key {key.prefix}… is revoked.")
    return redirect("web:keys")
