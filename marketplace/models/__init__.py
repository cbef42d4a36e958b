from .audit import AuditEvent
from .identity import ApiKey, Membership, Organization, User
from .stripe_events import StripeEvent

__all__ = ["ApiKey", "AuditEvent", "Membership", "Organization", "StripeEvent", "User"]
