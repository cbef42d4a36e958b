from .audit import AuditEvent
from .catalogue import Dataset, DatasetVersion, FileUpload, Submission, Task, Visibility
from .events import DeliveryAttempt, Event, EventDelivery, WebhookEndpoint
from .identity import ApiKey, Membership, Organization, OrganizationInvitation, User
from .ingestion import CheckResult, CheckRun
from .registry import RegistrySchema
from .stripe_events import StripeEvent

__all__ = [
    "ApiKey",
    "AuditEvent",
    "CheckResult",
    "CheckRun",
    "Dataset",
    "DeliveryAttempt",
    "Event",
    "EventDelivery",
    "DatasetVersion",
    "FileUpload",
    "Membership",
    "Organization",
    "OrganizationInvitation",
    "RegistrySchema",
    "StripeEvent",
    "Submission",
    "Task",
    "User",
    "WebhookEndpoint",
    "Visibility",
]
