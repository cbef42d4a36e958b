"""Forms of the submission stepper. Their fields are derived from the API's serializer
(`SubmissionUpdateSerializer`), so a datasheet field has the same limits in the browser as in
the API; the service (`submission_update`) then checks what spans fields (price, license)."""

from django import forms
from django.core.validators import RegexValidator
from rest_framework import serializers

from marketplace.catalogue_serializers import SUBMISSION_FIELDS, SubmissionUpdateSerializer
from marketplace.models import Submission

LONG_TEXT = 1_000  # longer limits get a textarea

# Labels and help in the datasheet's words, grouped as the page shows them.
DATASHEET_GROUPS = [
    (
        "Description",
        [
            ("name", "Name", "What buyers see first, e.g. “Welsh read speech”."),
            ("shortDescription", "Short description", "One or two sentences for the catalogue."),
            (
                "longDescription",
                "Long description",
                "What is in the data, how it was collected, how it is organised.",
            ),
        ],
    ),
    (
        "What it is",
        [
            ("task", "Task", "The machine-learning task the data is for."),
            ("locale", "Locale", "A language tag such as cy-GB, sw or pt-BR."),
            ("format", "Format", "The files' format, e.g. TSV, MP3, Parquet."),
        ],
    ),
    (
        "Provenance and consent",
        [
            ("createdByFullName", "Created by", "Who made the data (a person or a community)."),
            ("createdByEmail", "Creator's e-mail", ""),
            ("intendedUsage", "Intended usage", "What the data is meant to be used for."),
            (
                "ethicalReviewProcess",
                "Ethical review and consent",
                "How contributors consented, and any ethics review the collection went through.",
            ),
            ("other", "Anything else buyers should know", ""),
        ],
    ),
    (
        "Personal data",
        [
            (
                "containsPersonalData",
                "The data contains personal data",
                "Voices, names, faces or anything else that identifies a person.",
            ),
        ],
    ),
    (
        "Contacts",
        [
            ("pointOfContactFullName", "Point of contact", ""),
            ("pointOfContactEmail", "Point of contact's e-mail", ""),
            ("fundedByFullName", "Funded by", ""),
            ("fundedByEmail", "Funder's e-mail", ""),
            ("legalContactFullName", "Legal contact", ""),
            ("legalContactEmail", "Legal contact's e-mail", ""),
            (
                "showContactInfo",
                "Show the contacts on the public dataset page",
                "Off by default: contacts are only shown to staff.",
            ),
            ("showComplianceAttributes", "Show the compliance attributes publicly", ""),
        ],
    ),
    (
        "Restrictions and forbidden uses",
        [
            ("restrictions", "Restrictions", "Conditions on use, added to the license's."),
            ("forbiddenUsage", "Forbidden uses", "Uses that are never allowed."),
            ("additionalConditions", "Additional conditions", ""),
            (
                "exclusivityOptOut",
                "Opt out of exclusivity",
                "The data may also be offered elsewhere.",
            ),
        ],
    ),
]

LICENSE_FIELDS = [
    ("licenseAbbreviation", "License", ""),
    ("license", "Custom license name or text", "Only for a custom license (LicenseRef-…)."),
    ("licenseUrl", "Custom license URL", ""),
    ("visibility", "Visibility", ""),
    (
        "autoApproveAccessRequests",
        "Approve access requests automatically",
        "Only for restricted datasets: every request is approved at once.",
    ),
    ("isPaid", "Paid dataset", "Buyers pay the base price plus the platform fee."),
    ("basePriceCents", "Base price (cents)", "What you receive per sale, in cents."),
    ("currency", "Currency", "Three letters, e.g. usd."),
]


# What the service says is missing (wire names) in the page's words.
LABELS = {wire: label for _, fields in DATASHEET_GROUPS for wire, label, _ in fields} | {
    wire: label for wire, label, _ in LICENSE_FIELDS
}


def _form_field(field: serializers.Field, label: str, help_text: str) -> forms.Field:
    common = {"label": label, "help_text": help_text, "required": False}
    if isinstance(field, serializers.BooleanField):
        return forms.BooleanField(**common)
    if isinstance(field, serializers.ChoiceField):
        return forms.ChoiceField(choices=[("", "—"), *field.choices.items()], **common)
    if isinstance(field, serializers.IntegerField):
        return forms.IntegerField(min_value=field.min_value, **common)
    if isinstance(field, serializers.EmailField):
        return forms.EmailField(max_length=field.max_length, **common)
    if isinstance(field, serializers.RegexField):
        [pattern] = [v.regex for v in field.validators if isinstance(v, RegexValidator)]
        return forms.RegexField(regex=pattern, max_length=field.max_length, strip=True, **common)
    if isinstance(field, serializers.URLField):
        return forms.URLField(max_length=field.max_length, assume_scheme="https", **common)
    max_length = getattr(field, "max_length", None)
    widget = forms.Textarea(attrs={"rows": 4}) if (max_length or 0) > LONG_TEXT else None
    return forms.CharField(max_length=max_length, widget=widget, strip=True, **common)


def _build(spec) -> dict[str, forms.Field]:
    wire = SubmissionUpdateSerializer().fields
    return {name: _form_field(wire[name], label, help_text) for name, label, help_text in spec}


class _SubmissionForm(forms.Form):
    """Initial values from the submission; `changes()` gives the model fields to save (only
    what the form holds), for `submission_update`."""

    SPEC: list = []

    def __init__(self, *args, submission: Submission, **kwargs):
        initial = {wire: getattr(submission, SUBMISSION_FIELDS[wire]) for wire, _, _ in self.SPEC}
        super().__init__(*args, initial=initial, **kwargs)
        self.fields.update(_build(self.SPEC))

    def changes(self) -> dict:
        """The model fields the form holds (of a bound form: the valid ones)."""
        out = {}
        for wire, _, _ in self.SPEC:
            if wire not in self.cleaned_data:
                continue
            value, field = self.cleaned_data[wire], self.fields[wire]
            if isinstance(field, forms.ChoiceField) and value == "":
                continue  # nothing picked: leave the stored value as it is
            out[SUBMISSION_FIELDS[wire]] = value
        return out

    def add_service_error(self, message: str) -> None:
        """A service error names the field first ("basePriceCents: …"): show it there."""
        name, sep, text = message.partition(": ")
        if sep and name in self.fields:
            self.add_error(name, text)
        else:
            self.add_error(None, message)

    def groups(self):
        return [(title, [self[name] for name, _, _ in fields]) for title, fields in self.GROUPS]


class DatasheetForm(_SubmissionForm):
    SPEC = [f for _, fields in DATASHEET_GROUPS for f in fields]
    GROUPS = DATASHEET_GROUPS


class LicensePriceForm(_SubmissionForm):
    SPEC = LICENSE_FIELDS
    GROUPS = [("License and price", LICENSE_FIELDS)]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        wire = SubmissionUpdateSerializer().fields["licenseAbbreviation"]
        self.fields["licenseAbbreviation"] = forms.CharField(
            label="License",
            max_length=wire.max_length,
            required=False,
            help_text="A catalogue license (pick from the list), or a custom one named "
            "LicenseRef-<something>.",
            widget=forms.TextInput(attrs={"list": "license-options", "autocomplete": "off"}),
        )
        # The only currency the platform settles today (the service says so for the API).
        self.fields["currency"] = forms.ChoiceField(
            label="Currency", choices=[("usd", "USD")], required=False
        )

    def clean_licenseAbbreviation(self):
        value = self.cleaned_data.get("licenseAbbreviation") or ""
        try:
            return SubmissionUpdateSerializer().fields["licenseAbbreviation"].run_validation(value)
        except serializers.ValidationError as exc:
            raise forms.ValidationError(exc.detail) from None


class SubmitForm(forms.Form):
    agree = forms.BooleanField(
        label="I confirm that we have the rights to publish this data under these terms, that "
        "its contributors consented, and that the datasheet is accurate.",
    )
