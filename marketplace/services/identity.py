"""Users, organisations, memberships and API keys."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from marketplace.models import ApiKey, Membership, Organization, User
from marketplace.services.audit import audit_record

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
    *, username: str, email: str = "", password: str | None = None, is_staff=False
) -> User:
    user = User(username=username, email=email, is_staff=is_staff, is_superuser=is_staff)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
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
def api_key_create(
    *, user: User, organization: Organization, name: str = "", actor=None
) -> IssuedKey:
    """Issue a key for a member of `organization`. Only the hash is stored."""
    if not Membership.objects.filter(user=user, organization=organization).exists():
        raise ValueError(f"{user} is not a member of {organization}")
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=api_key_hash(secret),
        user=user,
        organization=organization,
    )
    audit_record(
        actor=actor or user,
        organization=organization,
        action="api_key.create",
        obj=key,
        data={"prefix": prefix, "name": name},
    )
    return IssuedKey(key=key, secret=secret)


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: User) -> ApiKey:
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(actor=actor, organization=key.organization, action="api_key.revoke", obj=key)
    return key


@transaction.atomic
def organization_request_upload_access(*, organization: Organization, actor: User) -> Organization:
    org = Organization.objects.select_for_update().get(pk=organization.pk)
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
    return org


def api_key_can_upload(key: ApiKey) -> bool:
    org = key.organization
    return (
        org.upload_access == Organization.UploadAccess.APPROVED
        and org.upload_approved_at is not None
        and key.created_at >= org.upload_approved_at
    )
