from marketplace.models import AuditEvent


def audit_record(*, actor, organization, action: str, obj, data: dict | None = None) -> AuditEvent:
    """Write one audit row; call it inside the transaction that makes the change."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        organization=organization,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        data=data or {},
    )
