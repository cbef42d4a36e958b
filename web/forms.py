from django import forms

from marketplace.models import Membership


class OrganizationForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        label="Organisation name",
        help_text="The name buyers see on your datasets, e.g. your lab, company or community.",
    )


class SwitchOrganizationForm(forms.Form):
    organization = forms.IntegerField(widget=forms.HiddenInput)
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail address")
    role = forms.ChoiceField(
        choices=Membership.Role.choices,
        initial=Membership.Role.MEMBER,
        help_text="Owners manage members, keys, prices, shares and the payout account.",
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        required=False,
        label="Key name",
        help_text="Where you will use it, e.g. “laptop” or “training cluster”.",
    )
    # One-time token of the blank form (web.views.keys): a POST sent again is not a second key.
    once = forms.CharField(required=False, widget=forms.HiddenInput)
