"""The admin, by area: `identity` (users, organisations and their members, keys, audit,
Stripe events) and `catalogue` (datasets, submissions, uploads, check runs). Staff see and do
what their groups allow (web/migrations/0001_staff_groups.py): every action names the
permission it needs, and every change form writes through a service."""

from marketplace.admin.catalogue import (
    CheckRunAdmin,
    DatasetAdmin,
    FileUploadAdmin,
    SubmissionAdmin,
)
from marketplace.admin.events import EventDeliveryAdmin, WebhookEndpointAdmin
from marketplace.admin.identity import (
    ApiKeyAdmin,
    AuditEventAdmin,
    MembershipAdmin,
    OrganizationAdmin,
    StripeEventAdmin,
    UserAdmin,
)
from marketplace.admin.takedowns import TakedownNoticeAdmin

__all__ = [
    "ApiKeyAdmin",
    "AuditEventAdmin",
    "CheckRunAdmin",
    "DatasetAdmin",
    "EventDeliveryAdmin",
    "FileUploadAdmin",
    "MembershipAdmin",
    "OrganizationAdmin",
    "StripeEventAdmin",
    "SubmissionAdmin",
    "TakedownNoticeAdmin",
    "UserAdmin",
    "WebhookEndpointAdmin",
]
