"""Takedowns on the site (issue 13 §3).

- `/datasets/<slug>/takedown`: anyone (no account) files a notice about a published dataset;
  the same service and the same request budget as `POST /api/takedown-notices`.
- `/organization/takedowns`: the provider's accepted notices (never the claimant's contact
  details), each with the counter-notice form for owners."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from marketplace.models import TakedownNotice
from marketplace.services.errors import Conflict, Gone, Invalid, NotFound, ServiceError
from marketplace.services.takedowns import (
    counter_notice_file,
    takedown_notice_file,
    takedown_notice_get,
    takedown_notices_of_organization,
)
from marketplace.throttling import budget_take, caller_ident, client_ip, parse_rate
from web.decorators import actor_required
from web.views.catalogue import _dataset_for

SCOPE = "takedown_notices"
GOOD_FAITH = (
    "I state in good faith that the use of the material described is not authorised by me, "
    "the person or rights holder I act for, or the law, and that this notice is accurate."
)


class TakedownNoticeForm(forms.Form):
    claimant_name = forms.CharField(
        max_length=200, label="Your name", help_text="Or the name of the organisation you act for."
    )
    contact_email = forms.EmailField(
        label="Contact e-mail",
        help_text="We send the receipt and our decision here. The provider never sees it.",
    )
    basis = forms.ChoiceField(
        label="Basis of the notice",
        choices=TakedownNotice.Basis.choices,
        widget=forms.RadioSelect,
    )
    version = forms.TypedChoiceField(
        label="Which version",
        required=False,
        coerce=int,
        empty_value=None,
        help_text="Leave “All versions” unless only one version contains the material.",
    )
    members = forms.CharField(
        label="Files concerned",
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="The paths inside the archive, one per line (as listed on the dataset page "
        "or in the archive). Leave empty if the whole dataset is concerned.",
    )
    description = forms.CharField(
        label="What is wrong",
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Say what the material is, whose rights or data it concerns and why it "
        "should be removed.",
    )
    good_faith = forms.BooleanField(label=GOOD_FAITH)

    def __init__(self, *args, versions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [("", "All versions")] + [
            (str(v), f"Version {v}") for v in versions
        ]


def budget_spent(request) -> float:
    """The takedown-notice budget (`API_THROTTLE_SCOPES["takedown_notices"]`), per caller and
    per IP address, shared with the API: seconds to wait when spent, else 0."""
    rates = settings.API_THROTTLE_SCOPES.get(SCOPE)
    if not rates:
        return 0.0
    wait = 0.0
    for key, rate in [
        (f"{SCOPE}:caller:{caller_ident(request)}", rates["caller"]),
        (f"{SCOPE}:ip:{client_ip(request)}", rates["ip"]),
    ]:
        limit, period = parse_rate(rate)
        allowed, seconds = budget_take(key, limit=limit, period_seconds=period)
        if not allowed:
            wait = max(wait, seconds, 1.0)
    return wait


@require_http_methods(["GET", "POST"])
def takedown_notice_new(request, slug: str):
    try:
        dataset = _dataset_for(request, slug)
    except Gone as exc:
        return render(request, "web/catalogue/removed.html", {"message": exc.message}, status=410)
    versions = list(dataset.versions.order_by("-number").values_list("number", flat=True))
    form = TakedownNoticeForm(request.POST or None, versions=versions)
    status = 200
    if request.method == "POST":
        status = 400
        wait = budget_spent(request)
        if wait:
            form.is_valid()
            form.add_error(
                None, f"Too many notices from you: try again in {int(wait) + 1} seconds."
            )
            status = 429
        elif form.is_valid():
            data = form.cleaned_data
            try:
                notice = takedown_notice_file(
                    actor=request.actor,
                    dataset=dataset.public_id,
                    version=data["version"],
                    claimant_name=data["claimant_name"],
                    contact_email=data["contact_email"],
                    basis=data["basis"],
                    members=data["members"],
                    description=data["description"],
                    good_faith=data["good_faith"],
                )
            except Invalid as exc:
                for field, problem in (exc.extra.get("fields") or {}).items():
                    form.add_error(field if field in form.fields else None, problem)
                if not exc.extra.get("fields"):
                    form.add_error(None, exc.message)
            except (NotFound, Conflict) as exc:
                form.add_error(None, exc.message)
            else:
                return render(
                    request,
                    "web/takedowns/received.html",
                    {"dataset": dataset, "notice": notice},
                    status=201,
                )
    return render(
        request,
        "web/takedowns/new.html",
        {"dataset": dataset, "form": form},
        status=status,
    )


# --- the provider's workspace -------------------------------------------------------------------


class CounterNoticeForm(forms.Form):
    statement = forms.CharField(
        label="Your statement",
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Why the removed material may be published (your rights, the consent you "
        "hold, a mistake in the notice). Sent to the claimant and kept for our staff.",
    )
    contact = forms.CharField(
        label="Contact",
        max_length=300,
        help_text="A name and an e-mail address or postal address the claimant and our staff "
        "can reach.",
    )


@actor_required
@require_GET
def takedown_list(request):
    notices = list(takedown_notices_of_organization(actor=request.actor))
    return render(request, "web/takedowns/list.html", {"notices": notices})


@actor_required
@require_http_methods(["GET", "POST"])
def takedown_detail(request, reference: str):
    try:
        notice = takedown_notice_get(actor=request.actor, reference=reference)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    form = CounterNoticeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                counter_notice_file(
                    actor=request.actor,
                    notice=notice,
                    statement=form.cleaned_data["statement"],
                    contact=form.cleaned_data["contact"],
                )
            except Invalid as exc:
                for field, problem in (exc.extra.get("fields") or {}).items():
                    form.add_error(field if field in form.fields else None, problem)
            except ServiceError as exc:
                form.add_error(None, exc.message)
                status = exc.status_code
            else:
                messages.success(request, "Your counter-notice is recorded; the claimant is told.")
                return redirect("web:takedown_detail", reference=notice.reference)
    counter = getattr(notice, "counter_notice", None)
    return render(
        request,
        "web/takedowns/detail.html",
        {"notice": notice, "counter": counter, "form": form},
        status=status,
    )
