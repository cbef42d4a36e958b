"""Who the takedown e-mails go to (marketplace/services/takedowns.py sends them): the claimant,
the provider's owners (never the claimant's contact details) and the staff who may decide
notices (active staff holding `marketplace.takedown_dataset`, superusers included), so that a new
notice or a counter-notice is not only visible in the admin. Every e-mail goes after commit."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse

from marketplace.models import Membership, TakedownNotice, User


def mail_after_commit(subject: str, body: str, to: list[str]) -> None:
    to = [address for address in to if address]
    if to:
        transaction.on_commit(lambda: send_mail(subject, body, None, to))


def owner_emails(organization_id: int) -> list[str]:
    return list(
        Membership.objects.filter(
            organization_id=organization_id, role=Membership.Role.OWNER
        ).values_list("user__email", flat=True)
    )


def decider_emails() -> list[str]:
    """The addresses of everyone who may decide a notice."""
    permission = Permission.objects.filter(
        codename="takedown_dataset", content_type__app_label="marketplace"
    ).first()
    may = Q(is_superuser=True)
    if permission is not None:
        may |= Q(user_permissions=permission) | Q(groups__permissions=permission)
    users = User.objects.filter(may, is_active=True, is_staff=True).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def notice_url(notice: TakedownNotice) -> str:
    """The provider's page of the notice (workspace)."""
    return f"{settings.PUBLIC_BASE_URL}/organization/takedowns/{notice.reference}"


def notice_admin_url(notice: TakedownNotice) -> str:
    """Where staff decide it."""
    path = reverse("admin:marketplace_takedownnotice_change", args=[notice.pk])
    return f"{settings.PUBLIC_BASE_URL}{path}"


def mail_deciders(notice: TakedownNotice, subject: str, body: str) -> None:
    mail_after_commit(
        subject,
        f"{body}\n\nDecide or review it in the admin: {notice_admin_url(notice)}",
        decider_emails(),
    )
