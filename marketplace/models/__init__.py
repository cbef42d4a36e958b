from .audit import AuditEvent
from .catalogue import Dataset, DatasetVersion, FileUpload, Submission, Task, Visibility
from .events import DeliveryAttempt, Event, EventDelivery, WebhookEndpoint
from .identity import ApiKey, Membership, Organization, OrganizationInvitation, User
from .ingestion import CheckResult, CheckRun
from .members import VersionMember
from .registry import RegistrySchema
from .search import DatasetTerm, DatasetTermCount
from .stripe_events import StripeEvent
from .takedowns import CounterNotice, TakedownNotice

__all__ = [
    "ApiKey",
    "AuditEvent",
    "CheckResult",
    "CheckRun",
    "CounterNotice",
    "Dataset",
    "DeliveryAttempt",
    "Event",
    "EventDelivery",
    "DatasetTerm",
    "DatasetTermCount",
    "DatasetVersion",
    "VersionMember",
    "FileUpload",
    "Membership",
    "Organization",
    "OrganizationInvitation",
    "RegistrySchema",
    "StripeEvent",
    "Submission",
    "TakedownNotice",
    "Task",
    "User",
    "WebhookEndpoint",
    "Visibility",
]
