"""Invitations to join an organisation: an owner invites a person by e-mail with a role, the
person accepts with the link while signed in with that (verified) address.

The e-mail goes out from a task after commit; each send issues a fresh one-time token whose hash
replaces the previous one, so only the newest link works and the raw token never passes through
the broker or the database."""

import hashlib
import secrets
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from marketplace.actors import Actor
from marketplace.models import AuditEvent, Membership, Organization, OrganizationInvitation, User
from marketplace.services.audit import audit_record
from marketplace.services.errors import (
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    ServiceError,
)
from marketplace.tasking import task_enqueue_on_commit

TOKEN_BYTES = 32
SEND_TASK = "marketplace.tasks.organization_invitation_send"


class InvitationsRateLimited(ServiceError):
    status_code = 429
    code = "invitations_rate_limited"


def _invitations_budget_check(*, organization: Organization, inviter: User) -> None:
    """At most ORGANIZATION_INVITES_PER_DAY invitations (sent or re-sent) per organisation and
    ORGANIZATION_INVITES_PER_INVITER_PER_HOUR per inviting user (security finding 7): a stolen
    owner session cannot turn us into a spam relay. Counted from the audit rows the invitations
    write, under a lock on the organisation row so concurrent invitations cannot overshoot."""
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    now = timezone.now()
    sent = AuditEvent.objects.filter(action="membership.invite")
    if (
        sent.filter(organization=organization, created_at__gte=now - timedelta(days=1)).count()
        >= settings.ORGANIZATION_INVITES_PER_DAY
    ):
        raise InvitationsRateLimited(
            "This organisation has sent as many invitations as it may today; try again tomorrow."
        )
    if (
        sent.filter(actor=inviter, created_at__gte=now - timedelta(hours=1)).count()
        >= settings.ORGANIZATION_INVITES_PER_INVITER_PER_HOUR
    ):
        raise InvitationsRateLimited(
            "You have sent as many invitations as you may this hour; try again later."
        )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_url(token: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/invitations/{token}"


@transaction.atomic
def organization_invite(*, actor: Actor, email: str, role: str) -> OrganizationInvitation:
    """An owner invites `email` as `role`. Inviting an address that already has an open
    invitation sends it again (with the new role); inviting a member is a conflict."""
    if not actor.is_owner:
        raise Forbidden("Only an owner can invite members.", code="owner_required")
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise Invalid("email: enter a valid e-mail address.", code="invalid_email") from None
    # Valid syntax goes up to 320 characters; no deliverable address (nor our column) beyond 254.
    if len(email) > OrganizationInvitation._meta.get_field("email").max_length:
        raise Invalid("email: at most 254 characters.", code="invalid_email")
    if role not in Membership.Role.values:
        raise Invalid(f"role: one of {', '.join(Membership.Role.values)}.")
    org = actor.organization
    if Membership.objects.filter(organization=org, user__email__iexact=email).exists():
        raise Conflict(f"{email} is already a member of {org.name}.", code="already_member")
    _invitations_budget_check(organization=org, inviter=actor.user)
    invitation = (
        OrganizationInvitation.objects.select_for_update()
        .filter(
            organization=org,
            email=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )
    expires = timezone.now() + timedelta(seconds=settings.ORGANIZATION_INVITE_TTL_SECONDS)
    if invitation is None:
        invitation = OrganizationInvitation.objects.create(
            organization=org, email=email, role=role, invited_by=actor.user, expires_at=expires
        )
    else:
        invitation.role, invitation.expires_at = role, expires
        invitation.save(update_fields=["role", "expires_at"])
    audit_record(
        actor=actor,
        organization=org,
        action="membership.invite",
        obj=invitation,
        data={"email": email, "role": role},
    )
    task_enqueue_on_commit(SEND_TASK, invitation.pk)
    return invitation


def organization_invitation_send(*, invitation_id: int) -> bool:
    """E-mail a fresh link (False, nothing sent, when the invitation is no longer open)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        invitation = (
            OrganizationInvitation.objects.select_for_update(of=("self",))
            .select_related("organization", "invited_by")
            .get(pk=invitation_id)
        )
        if not invitation.is_open:
            return False
        invitation.token_hash = _token_hash(token)
        invitation.save(update_fields=["token_hash"])
    context = {
        "invitation": invitation,
        "organization": invitation.organization,
        "url": invitation_url(token),
        "expires_at": invitation.expires_at,
    }
    subject = f"You are invited to join {invitation.organization.name} on Data Collective"
    body = render_to_string("marketplace/email/organization_invitation.txt", context)
    send_mail(subject, body, None, [invitation.email])
    OrganizationInvitation.objects.filter(pk=invitation.pk, token_hash=_token_hash(token)).update(
        sent_at=timezone.now()
    )
    return True


def organization_invitation_get(*, token: str) -> OrganizationInvitation:
    """The open invitation of a link: 404 for an unknown (or superseded) token, 410 when it
    expired, was revoked or was already used."""
    token = (token or "").strip()
    invitation = None
    if token and len(token) <= 200:
        invitation = (
            OrganizationInvitation.objects.select_related("organization", "invited_by")
            .filter(token_hash=_token_hash(token))
            .first()
        )
    if invitation is None:
        raise NotFound("This invitation link is not valid.", code="invitation_invalid")
    if not invitation.is_open:
        raise Gone(
            "This invitation was already used, was withdrawn or has expired; ask an owner of "
            "the organisation for a new one.",
            code="invitation_closed",
        )
    return invitation


@transaction.atomic
def organization_invitation_accept(*, token: str, user: User) -> Membership:
    """The signed-in user joins with the invitation's role. The invitation names an e-mail
    address: the user must have verified that address (so a forwarded link is no use)."""
    found = organization_invitation_get(token=token)
    invitation = OrganizationInvitation.objects.select_for_update().get(pk=found.pk)
    if not invitation.is_open:
        raise Gone("This invitation was already used.", code="invitation_closed")
    verified = EmailAddress.objects.filter(
        user=user, email__iexact=invitation.email, verified=True
    ).exists()
    if not verified:
        raise Forbidden(
            f"This invitation was sent to {invitation.email}. Sign in with that address (and "
            "verify it) to accept it.",
            code="invitation_other_email",
        )
    membership, created = Membership.objects.get_or_create(
        organization=invitation.organization, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        actor=user,
        organization=invitation.organization,
        action="membership.join",
        obj=membership,
        data={"invitation": invitation.pk, "role": membership.role, "created": created},
    )
    return membership


@transaction.atomic
def organization_invitation_revoke(*, actor: Actor, invitation_id: int) -> OrganizationInvitation:
    if not actor.is_owner:
        raise Forbidden("Only an owner can withdraw invitations.", code="owner_required")
    invitation = (
        OrganizationInvitation.objects.select_for_update()
        .filter(pk=invitation_id, organization=actor.organization)
        .first()
    )
    if invitation is None:
        raise NotFound("Invitation not found.")
    if invitation.revoked_at is None and invitation.accepted_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            organization=actor.organization,
            action="membership.invite_revoke",
            obj=invitation,
            data={"email": invitation.email},
        )
    return invitation
