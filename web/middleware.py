"""`request.actor`: who a signed-in browser user acts as (the organisation picked in the session,
with their current role in it), for every page. API, webhook, health and static paths never need
it and are not charged the query."""

from marketplace.actors import actor_for_session

SKIP_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/static/", "/.well-known/")


class ActiveOrganizationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.actor = None
        if not request.path.startswith(SKIP_PREFIXES) and request.user.is_authenticated:
            request.actor = actor_for_session(user=request.user, session=request.session)
        return self.get_response(request)
