"""The contributor's consent withdrawal page (issue 13 §2), reached from their space
(/me/contributions): a confirmation with an optional reason, then one service call. They act
for themselves (Actor.person), not for an organisation they may belong to."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from contributors.models import ShareLine
from contributors.selectors import contributor_of_user
from contributors.services.withdrawals import REASON_MAX, consent_withdraw
from marketplace.actors import Actor
from marketplace.models import Dataset
from marketplace.services.errors import NotFound, ServiceError


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Reason (optional)",
        required=False,
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The provider reads it; licensees never learn who withdrew.",
    )


def _dataset_of_contributor(contributor, dataset_id: str) -> Dataset:
    dataset = Dataset.objects.filter(public_id=dataset_id).select_related("organization").first()
    if (
        dataset is None
        or not ShareLine.objects.filter(
            table__dataset=dataset, payee__contributor=contributor
        ).exists()
    ):
        raise Http404("Dataset not found among your contributions.")
    return dataset


@login_required
@require_http_methods(["GET", "POST"])
def contribution_withdraw(request, dataset_id: str):
    try:
        contributor = contributor_of_user(request.user)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    dataset = _dataset_of_contributor(contributor, dataset_id)
    form = WithdrawForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                consent_withdraw(
                    actor=Actor.person(request.user),
                    contributor=contributor,
                    dataset_id=dataset.public_id,
                    reason=form.cleaned_data["reason"],
                )
            except ServiceError as exc:
                form.add_error(None, exc.message)
                status = exc.status_code
            else:
                messages.success(
                    request,
                    f"You withdrew your consent for {dataset.name}. Your share of its sales "
                    "ends now; what you earned before stays yours.",
                )
                return redirect("web:contributions")
    return render(
        request,
        "contributors/withdraw.html",
        {
            "dataset": dataset,
            "form": form,
            "contributor": contributor,
            "deadline_days": settings.CONSENT_WITHDRAWAL_DEADLINE_DAYS,
        },
        status=status,
    )
