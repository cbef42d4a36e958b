"""Forms of the money pages: the statement download and the payout account's first set-up."""

import re
from datetime import date, datetime

from django import forms
from django.utils import timezone

from contributors.serializers import PayoutAccountCreateSerializer
from payouts.selectors import months_back

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class MonthField(forms.CharField):
    """A month as `YYYY-MM` (what `<input type="month">` sends) -> its first day."""

    widget = forms.TextInput(attrs={"type": "month", "pattern": r"\d{4}-\d{2}"})

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        match = MONTH_RE.match(value)
        if match is None:
            raise forms.ValidationError("Enter a month as YYYY-MM, for example 2026-03.")
        return date(int(match[1]), int(match[2]), 1)


class StatementForm(forms.Form):
    """`?currency=usd&from=YYYY-MM&to=YYYY-MM`: both months included. The month fields are added
    in __init__ because `from` is a Python keyword."""

    currency = forms.ChoiceField(label="Currency")

    def __init__(self, *args, currencies: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c.upper()) for c in currencies]
        self.fields["from"] = MonthField(
            label="From (month)", help_text="The first month, YYYY-MM."
        )
        self.fields["to"] = MonthField(label="To (month)", help_text="The last month, included.")

    @classmethod
    def initial_for(cls, *, currencies: list[str], months: int = 12) -> dict:
        """The last `months` months, this one included, in the first currency."""
        this_month = timezone.localdate().replace(day=1)
        return {
            "currency": currencies[0] if currencies else "",
            "from": months_back(this_month, months - 1).strftime("%Y-%m"),
            "to": this_month.strftime("%Y-%m"),
        }

    def clean(self):
        data = super().clean()
        start, end = data.get("from"), data.get("to")
        if start and end and start > end:
            self.add_error("to", "The last month cannot come before the first.")
        return data

    def period(self) -> tuple[datetime, datetime]:
        """[start of the first month, start of the month after the last) as aware datetimes."""
        start, last = self.cleaned_data["from"], self.cleaned_data["to"]
        after = months_back(last, -1)
        return (
            timezone.make_aware(datetime(start.year, start.month, 1)),
            timezone.make_aware(datetime(after.year, after.month, 1)),
        )

    def filename(self, prefix: str) -> str:
        data = self.cleaned_data
        return f"{prefix}-{data['currency']}-{data['from']:%Y-%m}-to-{data['to']:%Y-%m}.csv"


class PayoutAccountForm(forms.Form):
    """The account holder's country, asked only before the account exists (Stripe fixes it at
    creation). Parsed by the API's serializer, so both ways in accept the same."""

    country = forms.CharField(
        label="Country of the account holder (optional)",
        required=False,
        help_text="Two letters, for example GB or US. Leave empty for the platform's default.",
        widget=forms.TextInput(attrs={"autocomplete": "country", "maxlength": 2, "size": 4}),
    )

    def clean_country(self):
        value = self.cleaned_data["country"].strip()
        if not value:
            return None
        body = PayoutAccountCreateSerializer(data={"country": value})
        if not body.is_valid():
            raise forms.ValidationError("Enter the country as two letters, for example GB.")
        return body.validated_data["country"].upper()
