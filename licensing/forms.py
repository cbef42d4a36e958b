from django import forms

from marketplace.models import Organization


class TermsAcceptForm(forms.Form):
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.none(),
        label="Accept on behalf of",
        empty_label=None,
    )
    terms_hash = forms.CharField(widget=forms.HiddenInput, max_length=64, min_length=64)
    agree = forms.BooleanField(
        label="I have read these terms and accept them on behalf of this organisation."
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = Organization.objects.filter(
            memberships__user=user
        ).order_by("name", "pk")
