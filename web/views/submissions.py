"""The submission stepper: list, new, datasheet, license and price, submit, and the status page
that follows the checks and the review. (The files step is web/views/submission_files.py.) Each
step saves through the same services as the API and can be left and resumed at any time."""

import copy

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from licensing.selectors import licenses_list, submission_terms_preview
from marketplace.catalogue_serializers import SubmissionCreateSerializer
from marketplace.models import CheckRun, Submission
from marketplace.pricing import pricing_object
from marketplace.services import submissions as submission_services
from marketplace.services.errors import ServiceError
from web.checks import check_view
from web.decorators import actor_required, money_settings_allowed
from web.submission_forms import LABELS, DatasheetForm, LicensePriceForm, SubmitForm

S = Submission.Status
STEPS = [
    ("files", "Files"),
    ("datasheet", "Datasheet"),
    ("license", "License and price"),
    ("shares", "Contributors and shares"),
    ("submit", "Submit"),
]
TIMELINE = [
    (S.SUBMITTED, "Submitted"),
    (S.CHECKING, "Automatic checks"),
    (S.IN_REVIEW, "In review"),
    (S.APPROVED, "Approved and published"),
]


def _submission(request, submission_id: str) -> Submission:
    """The acting organisation's submission; another organisation's (or an unknown id) is 404."""
    try:
        return submission_services.submission_get_for_org(
            organization=request.actor.organization, submission_id=submission_id
        )
    except ServiceError as exc:
        raise Http404(exc.message) from exc


def _missing(submission: Submission) -> list[str]:
    return [LABELS.get(m, m) for m in submission_services.submission_missing_for_submit(submission)]


def stepper_context(submission, step, **extra):
    """What every step's page shows: the steps, this one, what is still missing."""
    return {
        "submission": submission,
        "steps": STEPS,
        "step": step,
        "missing": _missing(submission),
        "editable": submission.status in submission_services.EDITABLE,
        **extra,
    }


@actor_required
def submission_list(request):
    submissions = (
        Submission.objects.filter(organization=request.actor.organization)
        .exclude(status=S.DELETED)
        .select_related("dataset")
        .order_by("-updated_at", "-pk")
    )
    return render(request, "web/submissions/list.html", {"submissions": submissions})


@actor_required
@require_http_methods(["GET", "POST"])
def submission_new(request):
    error = None
    if request.method == "POST":
        body = SubmissionCreateSerializer(data={"name": request.POST.get("name", "")})
        if body.is_valid():
            try:
                submission = submission_services.submission_create(
                    actor=request.actor, name=body.validated_data["name"]
                )
            except ServiceError as exc:
                error = exc.message
            else:
                return redirect("web:submission_files", submission_id=submission.public_id)
        else:
            error = " ".join(str(e) for e in body.errors.get("name", ["Check the name."]))
    return render(
        request,
        "web/submissions/new.html",
        {"error": error, "name": request.POST.get("name", "")},
        status=400 if error else 200,
    )


def _step_form(request, submission_id, *, form_class, step, template, extra=None, money=False):
    submission = _submission(request, submission_id)
    form = form_class(request.POST if request.method == "POST" else None, submission=submission)
    status = 200
    if request.method == "POST" and request.htmx and "missing" in request.GET:
        return _missing_preview(request, submission, form)
    if request.method == "POST" and money and not money_settings_allowed(request):
        return redirect("mfa_index")
    if request.method == "POST":
        if form.is_valid():
            try:
                submission_services.submission_update(
                    actor=request.actor, submission_id=submission.public_id, data=form.changes()
                )
            except ServiceError as exc:
                form.add_service_error(exc.message)
            else:
                messages.success(request, "Saved.")
                target = request.POST.get("then") or step
                return redirect(f"web:submission_{target}", submission_id=submission.public_id)
        status = 400
    context = stepper_context(submission, step, form=form, **(extra(submission) if extra else {}))
    return render(request, template, context, status=status)


def _missing_preview(request, submission, form):
    """The "still needed" list as the form stands, while the person types (htmx, on change):
    the form's valid values applied to an unsaved copy; nothing is saved."""
    form.is_valid()
    draft = copy.copy(submission)
    for field, value in form.changes().items():
        setattr(draft, field, value)
    return render(
        request,
        "web/submissions/_missing.html",
        {"missing": _missing(draft), "editable": True},
    )


@actor_required
@require_http_methods(["GET", "POST"])
def submission_datasheet(request, submission_id: str):
    return _step_form(
        request,
        submission_id,
        form_class=DatasheetForm,
        step="datasheet",
        template="web/submissions/datasheet.html",
    )


def _license_extra(submission):
    return {
        "licenses": licenses_list(flags={}),
        "terms": submission_terms_preview(submission),
        "pricing": pricing_object(
            is_paid=submission.is_paid,
            base_price_cents=submission.base_price_cents,
            currency=submission.currency or "usd",
        ),
    }


@actor_required
@require_http_methods(["GET", "POST"])
def submission_license(request, submission_id: str):
    return _step_form(
        request,
        submission_id,
        form_class=LicensePriceForm,
        step="license",
        template="web/submissions/license.html",
        extra=_license_extra,
        money=True,
    )


@actor_required
@require_http_methods(["GET", "POST"])
def submission_submit(request, submission_id: str):
    submission = _submission(request, submission_id)
    form = SubmitForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                submission_services.submission_submit(
                    actor=request.actor, submission_id=submission.public_id, agree=True
                )
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, "Submitted. The automatic checks run now.")
                return redirect("web:submission_status", submission_id=submission.public_id)
        status = 400
    return render(
        request,
        "web/submissions/submit.html",
        stepper_context(
            submission, "submit", form=form, terms=submission_terms_preview(submission)
        ),
        status=status,
    )


def _status_context(request, submission):
    runs = list(
        CheckRun.objects.filter(submission=submission)
        .select_related("upload")
        .prefetch_related("results")
        .order_by("pk")
    )
    for run in runs:
        run.views = [check_view(r) for r in run.results.all()]
    reached = {s for s, _ in TIMELINE}
    order = [s for s, _ in TIMELINE]
    current = submission.status
    done_until = order.index(current) if current in reached else -1
    timeline = [
        (label, "done" if i < done_until else "current" if i == done_until else "todo")
        for i, (_, label) in enumerate(TIMELINE)
    ]
    return stepper_context(
        submission,
        "status",
        runs=runs,
        timeline=timeline,
        running=current in (S.SUBMITTED, S.CHECKING),
    )


@actor_required
def submission_status(request, submission_id: str):
    """The submission's page: where it stands, each check's result in words, the reviewer's
    note. While checks run the status part refreshes itself (htmx); without JavaScript a reload
    shows the same."""
    submission = _submission(request, submission_id)
    context = _status_context(request, submission)
    if request.htmx:
        return render(request, "web/submissions/_status.html", context)
    return render(request, "web/submissions/status.html", context)


@actor_required
@require_POST
def submission_delete(request, submission_id: str):
    submission = _submission(request, submission_id)
    try:
        submission_services.submission_delete(
            actor=request.actor, submission_id=submission.public_id
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("web:submission_status", submission_id=submission.public_id)
    messages.success(request, f"“{submission.name}” is deleted.")
    return redirect("web:submissions")
