"""Users, organisations, memberships and API keys."""

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.mail import send_mail
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from marketplace.actors import Actor
from marketplace.key_cache import api_key_cache_forget
from marketplace.models import ApiKey, Membership, Organization, User
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.tasking import task_enqueue_on_commit

KEY_PREFIX = "dc"
PREFIX_BYTES = 6  # 12 hex chars, unique and indexed, shown in listings
SECRET_BYTES = 32  # 256 bits of randomness


def api_key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_parse(raw: str) -> tuple[str, str] | None:
    """Split a presented key `dc_<prefix>_<secret>` into (prefix, whole key); None if malformed."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], raw


def api_key_matches(key: ApiKey, raw: str) -> bool:
    return hmac.compare_digest(key.key_hash, api_key_hash(raw))


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str  # shown once, never stored


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str = "",
    password: str | None = None,
    is_staff: bool = False,
    groups: Sequence[str] = (),
    is_superuser: bool = False,
) -> User:
    """Create a user. A staff user may use the admin but can do there only what the staff
    `groups` they join allow (reviewer, finance, support: web/migrations/0001_staff_groups.py);
    being staff never implies being a superuser, which must be asked for explicitly."""
    found = list(Group.objects.filter(name__in=groups).order_by("pk"))
    missing = sorted(set(groups) - {group.name for group in found})
    if missing:
        raise Invalid(f"groups: no such staff group {', '.join(missing)}.")
    if (groups or is_superuser) and not is_staff:
        raise Invalid("groups: only staff users join staff groups or are superusers.")
    user = User(username=username, email=email, is_staff=is_staff, is_superuser=is_superuser)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    if found:
        user.groups.add(*found)
    return user


@transaction.atomic
def organization_create(*, name: str, owner: User, slug: str | None = None) -> Organization:
    """Create an organisation with `owner` as its first owner member."""
    base = slugify(slug or name)[:70] or "org"
    candidate, n = base, 1
    while Organization.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    org = Organization.objects.create(name=name, slug=candidate)
    Membership.objects.create(user=owner, organization=org, role=Membership.Role.OWNER)
    audit_record(actor=owner, organization=org, action="organization.create", obj=org)
    return org


@transaction.atomic
def membership_add(
    *, organization: Organization, user: User, role=Membership.Role.MEMBER
) -> Membership:
    membership, _ = Membership.objects.get_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    return membership


@transaction.atomic
def api_key_create(*, actor: Actor, name: str = "") -> IssuedKey:
    """Issue a key for the acting user in the acting organisation (never for another user). Only
    the hash is stored. A key cannot mint a key with more rights than its own: a key that cannot
    upload (created before the organisation's upload approval, or itself minted by such a key)
    mints only keys that cannot upload either."""
    if not Membership.objects.filter(user=actor.user, organization=actor.organization).exists():
        raise NotFound(f"{actor.user} is not a member of {actor.organization}.")
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    may_upload = actor.api_key is None or actor.can_upload
    key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=api_key_hash(secret),
        user=actor.user,
        organization=actor.organization,
        may_upload=may_upload,
    )
    audit_record(
        actor=actor,
        organization=actor.organization,
        action="api_key.create",
        obj=key,
        data={"prefix": prefix, "name": name, "may_upload": may_upload},
    )
    return IssuedKey(key=key, secret=secret)


def api_keys_visible(*, actor: Actor, every: bool = False):
    """The keys an actor may see and revoke: their own in the organisation, or, for an owner
    asking for them, every key of the organisation."""
    keys = ApiKey.objects.filter(organization=actor.organization).select_related("user")
    if every:
        if not actor.is_owner:
            raise Forbidden(
                "Only an owner of the organisation can list every key.", code="owner_required"
            )
        return keys
    return keys.filter(user=actor.user)


def api_key_get(*, actor: Actor, key_id: int) -> ApiKey:
    """One key the actor may manage: an owner any key of the organisation, a member only their
    own. Anything else is 404 (no existence leak)."""
    keys = ApiKey.objects.filter(organization=actor.organization, pk=key_id)
    if not actor.is_owner:
        keys = keys.filter(user=actor.user)
    key = keys.select_related("user", "organization").first()
    if key is None:
        raise NotFound(f"API key {key_id} not found.")
    return key


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: Actor | User | None) -> ApiKey:
    """Revoke one key (idempotent). Who may revoke which key is decided by `api_key_get`."""
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(actor=actor, organization=key.organization, action="api_key.revoke", obj=key)
    return key


@transaction.atomic
def membership_remove(*, actor: Actor | User | None, membership: Membership) -> None:
    """Remove a member from an organisation (an owner removing someone, a member leaving, or
    staff). The removed user can act for the organisation in no way afterwards: their keys in it
    are revoked in the same transaction, and key authentication checks the membership too. The
    last owner cannot be removed (the organisation would be left without anyone to run it)."""
    membership = (
        Membership.objects.select_for_update()
        .select_related("organization", "user")
        .get(pk=membership.pk)
    )
    org = membership.organization
    if isinstance(actor, Actor):
        if actor.organization.pk != org.pk:
            raise NotFound("Membership not found.")
        if not actor.is_owner and actor.user.pk != membership.user_id:
            raise Forbidden("Only an owner can remove another member.", code="owner_required")
    if membership.role == Membership.Role.OWNER:
        owners = (
            Membership.objects.select_for_update()
            .filter(organization=org, role=Membership.Role.OWNER)
            .order_by("pk")
        )
        if len(owners) <= 1:
            raise Conflict(
                "The last owner cannot leave or be removed; make another member an owner first.",
                code="last_owner",
            )
    now = timezone.now()
    revoked = list(
        ApiKey.objects.select_for_update()
        .filter(organization=org, user=membership.user, revoked_at__isnull=True)
        .order_by("pk")
    )
    for key in revoked:
        key.revoked_at = now
        key.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            organization=org,
            action="api_key.revoke",
            obj=key,
            data={"reason": "membership.remove"},
        )
    audit_record(
        actor=actor,
        organization=org,
        action="membership.remove",
        obj=membership,
        data={"user": membership.user_id, "role": membership.role, "keys_revoked": len(revoked)},
    )
    membership.delete()


@transaction.atomic
def organization_request_upload_access(*, actor: Actor) -> Organization:
    """An owner asks staff for upload access for their organisation."""
    if not actor.is_owner:
        raise Forbidden(
            "Only an owner of the organisation can request upload access.",
            code="permission_denied",
        )
    org = Organization.objects.select_for_update().get(pk=actor.organization.pk)
    if org.upload_access != Organization.UploadAccess.APPROVED:
        org.upload_access = Organization.UploadAccess.REQUESTED
        org.upload_access_requested_at = timezone.now()
        org.save(update_fields=["upload_access", "upload_access_requested_at"])
        audit_record(actor=actor, organization=org, action="upload_access.request", obj=org)
    return org


@transaction.atomic
def organization_decide_upload_access(
    *, organization: Organization, approve: bool, actor: User
) -> Organization:
    """Staff decision. Approval is stamped with the time: keys created before it stay unable to
    upload, so a key leaked earlier never silently gains write rights."""
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    if approve:
        if org.upload_access != Organization.UploadAccess.APPROVED:
            org.upload_access = Organization.UploadAccess.APPROVED
            org.upload_approved_at = timezone.now()
    else:
        org.upload_access = Organization.UploadAccess.REJECTED
        org.upload_approved_at = None
    org.save(update_fields=["upload_access", "upload_approved_at"])
    audit_record(
        actor=actor,
        organization=org,
        action="upload_access.approve" if approve else "upload_access.reject",
        obj=org,
    )
    task_enqueue_on_commit("marketplace.tasks.upload_access_decision_notify", org.pk)
    return org


def upload_access_decision_notify(*, organization_id: int) -> int:
    """E-mail the organisation's owners its current upload-access decision; returns how many
    were written to."""
    org = Organization.objects.get(pk=organization_id)
    if org.upload_access not in (
        Organization.UploadAccess.APPROVED,
        Organization.UploadAccess.REJECTED,
    ):
        return 0
    owners = list(
        User.objects.filter(memberships__organization=org, memberships__role=Membership.Role.OWNER)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not owners:
        return 0
    approved = org.upload_access == Organization.UploadAccess.APPROVED
    context = {
        "organization": org,
        "approved": approved,
        "dashboard_url": f"{settings.PUBLIC_BASE_URL}/dashboard",
        "organization_url": f"{settings.PUBLIC_BASE_URL}/organization",
    }
    subject = (
        f"{org.name} can now publish datasets"
        if approved
        else f"Upload access for {org.name} was not approved"
    )
    body = render_to_string("marketplace/email/upload_access_decision.txt", context)
    send_mail(subject, body, None, owners)
    return len(owners)


# --- API-key authentication cache (marketplace.authentication) ---------------------------------
# Key authentication is cached for a few seconds. Every save or delete of what it depends on (the
# key: revocation; the membership: removal, role; the organisation: upload access; the user:
# deactivation, staff flags) forgets the keys concerned, whichever code path writes (these
# services, the admin, a shell); connected when this module is imported (MarketplaceConfig.ready
# imports marketplace.tasks, which imports it). Bulk `QuerySet.update()`s send no signal: code
# that changes these rows that way must call `api_key_cache_forget` itself.


def _keys_forget(key_hashes) -> None:
    api_key_cache_forget(key_hashes)


def _keys_of(**filters) -> list[str]:
    return list(ApiKey.objects.filter(**filters).values_list("key_hash", flat=True))


@receiver(post_save, sender=ApiKey, dispatch_uid="api_key_cache.key_saved")
@receiver(post_delete, sender=ApiKey, dispatch_uid="api_key_cache.key_deleted")
def _api_key_changed(sender, instance: ApiKey, created: bool = False, **kwargs) -> None:
    if not created:
        _keys_forget([instance.key_hash])


@receiver(post_save, sender=Membership, dispatch_uid="api_key_cache.membership_saved")
@receiver(post_delete, sender=Membership, dispatch_uid="api_key_cache.membership_deleted")
def _membership_changed(sender, instance: Membership, created: bool = False, **kwargs) -> None:
    if not created:
        _keys_forget(_keys_of(user_id=instance.user_id, organization_id=instance.organization_id))


@receiver(post_save, sender=Organization, dispatch_uid="api_key_cache.organization_saved")
def _organization_changed(sender, instance: Organization, created: bool = False, **kwargs):
    if not created:
        _keys_forget(_keys_of(organization_id=instance.pk))


@receiver(post_save, sender=User, dispatch_uid="api_key_cache.user_saved")
def _user_changed(sender, instance: User, created: bool = False, update_fields=None, **kwargs):
    # A sign-in stamps last_login only: nothing key authentication reads.
    if not created and set(update_fields or ()) != {"last_login"}:
        _keys_forget(_keys_of(user_id=instance.pk))
