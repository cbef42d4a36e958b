from marketplace.actors import Actor
from marketplace.models import AuditEvent


def audit_record(*, actor, organization, action: str, obj, data: dict | None = None) -> AuditEvent:
    """Write one audit row; call it inside the transaction that makes the change. `actor` is an
    `Actor` (the row names its user and, where there was one, its API key), a bare user (staff
    and system actions) or None (the platform itself)."""
    if isinstance(actor, Actor):
        user, api_key = actor.user, actor.api_key
    else:
        user, api_key = (actor if getattr(actor, "pk", None) else None), None
    return AuditEvent.objects.create(
        actor=user,
        api_key=api_key,
        organization=organization,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        data=data or {},
    )
