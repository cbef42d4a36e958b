"""The front door and the organisation's dashboard."""

from django.shortcuts import redirect, render

from marketplace.models import Submission
from web.decorators import actor_required
from web.selectors import dashboard_for


def home(request):
    """Signed-in members land on their dashboard; everyone else on what this place is."""
    if request.actor is not None:
        return redirect("web:dashboard")
    return render(request, "web/home.html")


@actor_required
def dashboard(request):
    board = dashboard_for(request.actor)
    # Each state as people read it ("In review", not the stored "in_review"), in the board's order.
    submission_counts = [
        (Submission.Status(state).label.capitalize(), count)
        for state, count in board.submissions_by_state.items()
    ]
    return render(
        request, "web/dashboard.html", {"board": board, "submission_counts": submission_counts}
    )
