"""Invitations of contributors who have no account, and claiming them.

The invitation carries a one-time token (256 random bits); only its SHA-256 is stored, so a
database leak reveals no usable link. A new invitation replaces the previous token.

The link carries the token in its fragment (`/contributors/claim#token=...`), which browsers
never send to a server, log or pass on as a Referer; the claim page posts it in a form. A claim
is bound to the invited address: the claiming account must have verified that e-mail address
(security finding 7)."""

import hashlib
import logging
import secrets
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from contributors.models import Contributor
from contributors.services.payees import payee_for_contributor
from marketplace.models import Dataset, Organization, User
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, Forbidden, Gone, NotFound

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32


def invite_ttl() -> timedelta:
    return timedelta(seconds=settings.CONTRIBUTOR_INVITE_TTL_SECONDS)


def invite_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def claim_url(token: str) -> str:
    """The link of the invitation e-mail: the token rides in the fragment, not the path."""
    base = settings.PUBLIC_BASE_URL
    return f"{base}/contributors/claim#token={token}"


def contributors_needing_invitation(*, contributor_ids) -> list[int]:
    """Of these contributors, those without an account and without a live invitation: the
    ones an invitation should go to now. A live invitation is never re-sent, so saving a share
    table repeatedly does not flood anyone's inbox."""
    live_since = timezone.now() - invite_ttl()
    ids = sorted(set(contributor_ids))
    pending: list[int] = []
    for start in range(0, len(ids), 5_000):
        pending += (
            Contributor.objects.filter(pk__in=ids[start : start + 5_000], user__isnull=True)
            .filter(Q(invited_at__isnull=True) | Q(invited_at__lt=live_since))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    return pending


def contributor_invite_issue(
    *, contributor_id: int, delivered: bool = False, organization: Organization | None = None
) -> tuple[Contributor, str] | None:
    """Issue a fresh one-time claim token for a contributor without an account and return it
    with the contributor; None when they have already claimed one. Only the token's hash is
    stored, and each issue replaces the previous token: only the newest one works.

    The invitation is valid (`invited_at`) once the token has reached the person: at once when
    the caller hands it over itself (`delivered=True`, a system caller such as `seed_demo`,
    audited here), otherwise only when contributor_invite_send has had its e-mail accepted.
    `organization` is the one whose invitation this is (it alone sees its status)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        contributor = Contributor.objects.select_for_update().get(pk=contributor_id)
        if contributor.user_id is not None:
            return None
        contributor.invite_token_hash = invite_token_hash(token)
        contributor.invited_at = timezone.now() if delivered else None
        contributor.invited_by = organization
        contributor.save(update_fields=["invite_token_hash", "invited_at", "invited_by"])
        if delivered:
            audit_record(
                actor=None,
                organization=None,
                action="contributor.invite",
                obj=contributor,
                data={"dataset": None, "delivery": "caller"},
            )
    return contributor, token


def contributor_invite_send(*, contributor_id: int, dataset_id: int | None = None) -> bool:
    """Issue a fresh one-time claim token and e-mail its link. Returns False (and sends nothing)
    when the contributor has already claimed an account.

    The token's hash is committed before the e-mail goes out and the invitation becomes valid
    (`invited_at`) only after the e-mail was accepted: a failed send leaves no live invitation,
    so the next save of a share table (or the task's retry) sends a new one. Each attempt
    replaces the token: only the newest link works."""
    dataset = (
        Dataset.objects.select_related("organization").filter(pk=dataset_id).first()
        if dataset_id
        else None
    )
    issued = contributor_invite_issue(
        contributor_id=contributor_id, organization=dataset.organization if dataset else None
    )
    if issued is None:
        return False
    contributor, token = issued
    token_hash = invite_token_hash(token)

    context = {
        "contributor": contributor,
        "dataset": dataset,
        "organization": dataset.organization if dataset else None,
        "claim_url": claim_url(token),
        "claim_page_url": f"{settings.PUBLIC_BASE_URL}/contributors/claim",
        "token": token,
        "expires_days": invite_ttl().days,
    }
    subject = " ".join(
        render_to_string("contributors/email/invitation_subject.txt", context).split()
    )
    body = render_to_string("contributors/email/invitation.txt", context)
    send_mail(subject, body, None, [contributor.email])

    with transaction.atomic():
        sent = Contributor.objects.filter(
            pk=contributor_id, invite_token_hash=token_hash, user__isnull=True
        ).update(invited_at=timezone.now())
        if sent:
            audit_record(
                actor=None,
                organization=dataset.organization if dataset else None,
                action="contributor.invite",
                obj=contributor,
                data={"dataset": dataset.public_id if dataset else None},
            )
    return bool(sent)


def email_verified_by(*, user: User, email: str) -> bool:
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


def contributor_claim(*, token: str, user: User) -> Contributor:
    """Link `user` to the contributor the invitation token was sent to. The token is one-time
    (its hash is cleared) and expires after CONTRIBUTOR_INVITE_TTL_SECONDS. The claiming account
    must have verified the invited e-mail address: a forwarded or intercepted link is useless to
    anyone else. A user is at most one contributor. The earnings already accrued are on the
    contributor's payee, so nothing moves."""
    token = (token or "").strip()
    if not token or len(token) > 200:
        raise NotFound("This invitation link is not valid.", code="invitation_invalid")
    with transaction.atomic():
        contributor = (
            Contributor.objects.select_for_update()
            .filter(invite_token_hash=invite_token_hash(token))
            .exclude(invite_token_hash="")
            .first()
        )
        if contributor is None or contributor.user_id is not None:
            raise NotFound(
                "This invitation link is not valid or was already used.",
                code="invitation_invalid",
            )
        if contributor.invited_at is None or contributor.invited_at < timezone.now() - invite_ttl():
            raise Gone(
                "This invitation has expired; ask the organisation to send it again.",
                code="invitation_expired",
            )
        if not email_verified_by(user=user, email=contributor.email):
            raise Forbidden(
                "This invitation was sent to another e-mail address. Sign in with the account "
                "of the address the invitation was sent to, or add that address to your account "
                "and verify it, then open the link again.",
                code="invitation_email_mismatch",
            )
        other = Contributor.objects.filter(user=user).exclude(pk=contributor.pk).first()
        if other is not None:
            raise Conflict(
                "Your account already belongs to another contributor profile.",
                code="contributor_already_linked",
            )
        contributor.user = user
        contributor.claimed_at = timezone.now()
        contributor.invite_token_hash = ""
        contributor.claimed_via_id = contributor.invited_by_id
        try:
            with transaction.atomic():
                contributor.save(
                    update_fields=["user", "claimed_at", "invite_token_hash", "claimed_via"]
                )
        except IntegrityError:
            # Another claim linked this user to a contributor at the same moment.
            raise Conflict(
                "Your account already belongs to another contributor profile.",
                code="contributor_already_linked",
            ) from None
        payee_for_contributor(contributor)
        audit_record(
            actor=user,
            organization=None,
            action="contributor.claim",
            obj=contributor,
            data={"email": contributor.email},
        )
    return contributor
