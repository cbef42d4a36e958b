"""/library/compliance: the compliance pack of `GET /api/compliance/training-data-summary` as a
printable page (same selector, same numbers; print styles in licensing/compliance.css)."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from licensing.compliance import training_data_summary
from licensing.views_library import member_required


@member_required
@require_GET
def compliance_page(request):
    summary = training_data_summary(organization=request.actor.organization)
    return render(request, "licensing/compliance.html", {"summary": summary})
