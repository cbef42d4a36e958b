"""The front door and the organisation's dashboard."""

from django.shortcuts import redirect, render

from web.decorators import actor_required
from web.selectors import dashboard_for


def home(request):
    """Signed-in members land on their dashboard; everyone else on what this place is."""
    if request.actor is not None:
        return redirect("web:dashboard")
    return render(request, "web/home.html")


@actor_required
def dashboard(request):
    return render(request, "web/dashboard.html", {"board": dashboard_for(request.actor)})
