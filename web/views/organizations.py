"""Organisations: create, switch, members (invite, remove, leave), invitations and upload
access. Each action is a POST that calls one service; errors come back as messages or next to
the field, and nothing is half-done."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from marketplace.actors import ACTIVE_ORGANIZATION_SESSION_KEY, actor_for_member
from marketplace.models import Membership
from marketplace.services.errors import Forbidden, ServiceError
from marketplace.services.identity import (
    membership_remove,
    organization_create,
    organization_request_upload_access,
)
from marketplace.services.invitations import (
    organization_invitation_accept,
    organization_invitation_get,
    organization_invitation_revoke,
    organization_invite,
)
from web.decorators import actor_required
from web.forms import InviteForm, OrganizationForm, SwitchOrganizationForm
from web.selectors import members_of


def _act_for(request, organization_id: int) -> None:
    request.session[ACTIVE_ORGANIZATION_SESSION_KEY] = organization_id


@login_required
@require_http_methods(["GET", "POST"])
def organization_new(request):
    form = OrganizationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        org = organization_create(name=form.cleaned_data["name"], owner=request.user)
        _act_for(request, org.pk)
        messages.success(request, f"{org.name} is created; you are its owner.")
        return redirect("web:dashboard")
    return render(
        request, "web/organization_new.html", {"form": form}, status=400 if form.errors else 200
    )


@login_required
@require_POST
def organization_switch(request):
    form = SwitchOrganizationForm(request.POST)
    if form.is_valid():
        membership = Membership.objects.filter(
            user=request.user, organization_id=form.cleaned_data["organization"]
        ).first()
        if membership is None:
            messages.error(request, "You are not a member of that organisation.")
        else:
            _act_for(request, membership.organization_id)
            messages.success(request, f"You now act for {membership.organization.name}.")
        target = form.cleaned_data["next"]
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(target)
    return redirect("web:dashboard")


def _organization_page(request, *, invite_form, status=200):
    """The organisation page, also as the answer to an invitation with an error in it (the open
    invitations stay listed under the form)."""
    actor = request.actor
    invitations = (
        actor.organization.invitations.filter(
            accepted_at__isnull=True, revoked_at__isnull=True
        ).order_by("-created_at")
        if actor.is_owner
        else []
    )
    members = list(members_of(actor.organization))
    owners = [m.pk for m in members if m.role == Membership.Role.OWNER]
    return render(
        request,
        "web/organization.html",
        {
            "members": members,
            # The last owner cannot leave (the service refuses): no button that can only fail.
            "last_owner_id": owners[0] if len(owners) == 1 else None,
            "invitations": [i for i in invitations if i.is_open],
            "invite_form": invite_form,
        },
        status=status,
    )


@actor_required
def organization_page(request):
    return _organization_page(request, invite_form=InviteForm())


@actor_required
@require_POST
def organization_invite_view(request):
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = organization_invite(
                actor=request.actor,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except Forbidden as exc:
            messages.error(request, exc.message)
            return redirect("web:organization")
        except ServiceError as exc:
            form.add_error("email", exc.message)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("web:organization")
    return _organization_page(request, invite_form=form, status=400)


@actor_required
@require_POST
def organization_invitation_revoke_view(request, invitation_id: int):
    try:
        invitation = organization_invitation_revoke(
            actor=request.actor, invitation_id=invitation_id
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The invitation to {invitation.email} is withdrawn.")
    return redirect("web:organization")


@actor_required
@require_POST
def membership_remove_view(request, membership_id: int):
    membership = get_object_or_404(
        Membership, pk=membership_id, organization=request.actor.organization
    )
    leaving = membership.user_id == request.user.pk
    try:
        membership_remove(actor=request.actor, membership=membership)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("web:organization")
    if leaving:
        request.session.pop(ACTIVE_ORGANIZATION_SESSION_KEY, None)
        messages.success(request, f"You left {membership.organization.name}.")
        return redirect("web:home")
    messages.success(
        request,
        f"{membership.user.email or membership.user.get_username()} was removed; their API keys "
        "in this organisation are revoked.",
    )
    return redirect("web:organization")


@actor_required
@require_POST
def upload_access_request_view(request):
    try:
        org = organization_request_upload_access(actor=request.actor)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Upload access for {org.name} is requested. Staff will e-mail the owners."
        )
    return redirect("web:organization")


@require_http_methods(["GET", "POST"])
def invitation_page(request, token: str):
    """The link in the invitation e-mail. Anyone can see what it invites to; accepting needs a
    signed-in user with the invited address verified."""
    try:
        invitation = organization_invitation_get(token=token)
    except ServiceError as exc:
        return render(
            request, "web/invitation.html", {"error": exc.message}, status=exc.status_code
        )
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"/accounts/login/?next={request.path}")
        try:
            membership = organization_invitation_accept(token=token, user=request.user)
        except ServiceError as exc:
            return render(
                request,
                "web/invitation.html",
                {"invitation": invitation, "error": exc.message},
                status=exc.status_code,
            )
        actor = actor_for_member(user=request.user, organization=membership.organization)
        _act_for(request, actor.organization.pk)
        messages.success(request, f"Welcome to {actor.organization.name}.")
        return redirect("web:dashboard")
    return render(request, "web/invitation.html", {"invitation": invitation})
