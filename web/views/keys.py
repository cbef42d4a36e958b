"""API keys of the organisation: create (the secret shown once, on the response to the POST,
never stored or redirected), list, revoke. An owner sees and revokes every key."""

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
from web.once import once_issue, once_spend


def _blank_form(request) -> ApiKeyForm:
    return ApiKeyForm(initial={"once": once_issue(request, "api_key")})


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
    if token and not once_spend(request, "api_key", token):
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
