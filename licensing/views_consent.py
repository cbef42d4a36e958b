"""Consent-withdrawal pages (issue 13 §2): the provider's page of a dataset (member mapping,
record a withdrawal on a contributor's behalf, the withdrawals with their deadline and each
licensee's acknowledgement) and the licensee's deletion manifests in the library, with the
acknowledge button. Thin: a form parses, one service acts, a template renders."""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from contributors.selectors import dataset_of_organization
from contributors.services.member_mapping import (
    member_mapping_csv,
    member_mapping_csv_parse,
    member_mapping_set,
)
from contributors.services.withdrawals import REASON_MAX, consent_withdrawal_record
from licensing.services.deletion_manifests import (
    deletion_manifest_acknowledge,
    manifests_of_organization,
    provider_withdrawals,
)
from licensing.views_library import member_required
from marketplace.services.errors import NotFound, ServiceError


class MappingForm(forms.Form):
    mapping = forms.CharField(
        label="Member mapping (CSV: e-mail, path prefix)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="One contributor and member path prefix a line, e.g. "
        "“alice@example.org,clips/alice/”. Saving replaces the whole mapping.",
    )
    file = forms.FileField(label="…or upload a mapping CSV file", required=False)

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            data["raw"] = upload.read(4 * 1024 * 1024 + 1)
        elif (data.get("mapping") or "").strip():
            data["raw"] = data["mapping"].encode()
        else:
            raise forms.ValidationError("Enter the mapping or choose a CSV file.")
        return data


class RecordWithdrawalForm(forms.Form):
    email = forms.EmailField(label="Contributor's e-mail")
    reason = forms.CharField(
        label="Reason (optional)",
        required=False,
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def _dataset(request, dataset_id: str):
    try:
        return dataset_of_organization(
            organization=request.actor.organization, dataset_id=dataset_id
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _consent_page(request, dataset, *, mapping_form=None, record_form=None, status=200):
    return render(
        request,
        "licensing/consent/dataset.html",
        {
            "dataset": dataset,
            "withdrawals": list(provider_withdrawals(dataset=dataset)),
            "mapping_form": mapping_form
            or MappingForm(initial={"mapping": member_mapping_csv(dataset)}),
            "record_form": record_form or RecordWithdrawalForm(),
        },
        status=status,
    )


@member_required
@require_GET
def dataset_consent_page(request, dataset_id: str):
    return _consent_page(request, _dataset(request, dataset_id))


@member_required
@require_POST
def dataset_consent_mapping(request, dataset_id: str):
    dataset = _dataset(request, dataset_id)
    form = MappingForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            rows = member_mapping_set(
                actor=request.actor,
                dataset=dataset,
                mappings=member_mapping_csv_parse(form.cleaned_data["raw"]),
            )
        except ServiceError as exc:
            form.add_error("mapping", exc.message)
        else:
            messages.success(request, f"Member mapping saved: {len(rows)} line(s).")
            return redirect("licensing_web:dataset_consent", dataset_id=dataset.public_id)
    return _consent_page(request, dataset, mapping_form=form, status=400)


@member_required
@require_POST
def dataset_consent_record(request, dataset_id: str):
    dataset = _dataset(request, dataset_id)
    form = RecordWithdrawalForm(request.POST)
    if form.is_valid():
        try:
            consent_withdrawal_record(
                actor=request.actor,
                dataset=dataset,
                email=form.cleaned_data["email"],
                reason=form.cleaned_data["reason"],
            )
        except ServiceError as exc:
            form.add_error("email", exc.message)
        else:
            messages.success(request, "Withdrawal recorded; licensees were sent the manifest.")
            return redirect("licensing_web:dataset_consent", dataset_id=dataset.public_id)
    return _consent_page(request, dataset, record_form=form, status=400)


@member_required
@require_GET
def library_manifests_page(request):
    return render(
        request,
        "licensing/consent/library_manifests.html",
        {"manifests": list(manifests_of_organization(organization=request.actor.organization))},
    )


@member_required
@require_POST
def library_manifest_acknowledge(request, manifest_id: str):
    try:
        manifest = deletion_manifest_acknowledge(actor=request.actor, manifest_id=manifest_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    messages.success(
        request, f"Acknowledged: the members of {manifest.dataset.name} listed were deleted."
    )
    return redirect("licensing_web:library_manifests")
