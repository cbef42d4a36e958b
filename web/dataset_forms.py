"""Forms of the provider's dataset pages: a decision on an access request and the dataset's
access settings. Limits follow the API's serializers; the services decide the rest (a rejection
needs a reason)."""

from django import forms

from licensing.serializers import AccessRequestRejectSerializer
from web.dataset_selectors import ALL, DIRECTIONS, STATUS_TABS

REASON_MAX = AccessRequestRejectSerializer().fields["reason"].max_length


class AccessRequestDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject")], widget=forms.HiddenInput
    )
    reason = forms.CharField(
        max_length=REASON_MAX,
        required=False,
        label="Reason",
        help_text="The requester reads it. Needed to reject; optional to approve.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, access_request, **kwargs):
        kwargs.setdefault("prefix", access_request.public_id)  # several on a page: unique ids
        super().__init__(*args, **kwargs)
        self.access_request = access_request

    @property
    def approve(self) -> bool:
        return self.cleaned_data["decision"] == "approve"

    def add_service_error(self, message: str) -> None:
        """A service error names the field first ("reason: …"): show it there."""
        name, sep, text = message.partition(": ")
        if sep and name in self.fields:
            self.add_error(name, text)
        else:
            self.add_error(None, message)


class AccessSettingsForm(forms.Form):
    auto_approve = forms.BooleanField(
        required=False,
        label="Approve access requests automatically",
        help_text=(
            "Each new request is approved at once (you can still reject it later). Requests "
            "already pending keep waiting for your decision."
        ),
    )


class InboxQueryForm(forms.Form):
    """`?direction=received|sent&status=pending|approved|rejected|all` of the access-requests
    page; a missing or unknown value is the default (received and pending; sent and all)."""

    direction = forms.ChoiceField(choices=[(d, d) for d in DIRECTIONS], required=False)
    status = forms.ChoiceField(
        choices=[(s, s) for s, _ in STATUS_TABS] + [(ALL, ALL)], required=False
    )

    def values(self) -> tuple[str, str]:
        self.is_valid()  # an invalid field is left out of cleaned_data: its default applies
        data = self.cleaned_data
        direction = data.get("direction") or "received"
        default_status = "pending" if direction == "received" else ALL
        return direction, data.get("status") or default_status
