from django.conf import settings

from marketplace.models import Membership


def site(request):
    """The organisation the user acts for and the others they can switch to (the switcher on
    every page). Only evaluated when a template asks."""
    actor = getattr(request, "actor", None)

    def memberships():
        if not request.user.is_authenticated:
            return []
        return list(
            Membership.objects.filter(user=request.user)
            .select_related("organization")
            .order_by("organization__name", "organization__pk")
        )

    return {
        "actor": actor,
        "active_organization": actor.organization if actor else None,
        "my_memberships": memberships,
        "public_base_url": settings.PUBLIC_BASE_URL,
    }
