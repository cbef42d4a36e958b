"""Forms of the "Contributors and shares" step: the table editor (the organisation's own line
and one row per contributor, a formset the page's script adds rows to) and the CSV import. They
only gather what was typed; every rule is the service's (contributors.services.share_drafts),
whose errors land back on the row and field they name."""

from django import forms
from django.forms import formset_factory

from contributors.models import ShareTable
from contributors.services.share_csv import CSV_MAX_BYTES, amount_clean

# Larger tables are edited as CSV files: a page of 200 rows is about as much as anyone edits by
# hand, and it stays within Django's DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000 fields per POST).
EDITOR_MAX_ROWS = 200
EDITOR_BLANK_ROWS = 2  # empty rows offered after the table's own (add more with the script)

BASIS_CHOICES = [
    (ShareTable.Basis.PERCENTAGE, "Percentages (they must add up to exactly 100)"),
    (ShareTable.Basis.WEIGHT, "Weights (clips, hours…: the revenue is split in proportion)"),
]
SERVICE_FIELDS = {"email": "email", "name": "name", "percent": "amount", "weight": "amount"}


def amount_key(basis: str) -> str:
    return "percent" if basis == ShareTable.Basis.PERCENTAGE else "weight"


class ShareRowForm(forms.Form):
    email = forms.CharField(label="E-mail", required=False, max_length=320)
    name = forms.CharField(label="Name", required=False, max_length=200)
    amount = forms.CharField(label="Share", required=False, max_length=32)

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return not any((data.get(f) or "").strip() for f in ("email", "name", "amount"))


ShareRowFormSet = formset_factory(
    ShareRowForm,
    extra=0,
    can_delete=True,
    max_num=EDITOR_MAX_ROWS,
    validate_max=True,
    absolute_max=EDITOR_MAX_ROWS,
)


class SharesEditorForm(forms.Form):
    """The basis and the organisation's own line; the contributors are `rows`, a formset."""

    basis = forms.ChoiceField(label="Split by", choices=BASIS_CHOICES, widget=forms.RadioSelect)
    organization_amount = forms.CharField(
        required=False,
        max_length=32,
        help_text="Leave empty if the organisation takes no share.",
    )

    def __init__(self, data=None, *, organization_name: str, initial=None, rows_initial=()):
        super().__init__(data, initial=initial, prefix="table")
        self.fields["organization_amount"].label = f"{organization_name} (your organisation)"
        if data is None:
            room = EDITOR_MAX_ROWS - len(rows_initial)
            rows = [*rows_initial, *[{}] * min(EDITOR_BLANK_ROWS, room)]
            self.rows = ShareRowFormSet(initial=rows, prefix="rows")
        else:  # what was posted is the table: blank rows are skipped, removed ones dropped
            self.rows = ShareRowFormSet(data, prefix="rows")
        self.lines: list[tuple[str, ShareRowForm | None]] = []  # where each share came from

    def is_valid(self) -> bool:
        return super().is_valid() & self.rows.is_valid()

    def shares(self) -> tuple[str, list[dict]]:
        """(basis, lines) for the service, skipping removed and empty rows; `self.lines`
        remembers which row each line came from, for the service's errors."""
        basis = self.cleaned_data["basis"]
        key = amount_key(basis)
        out: list[dict] = []
        self.lines = []
        org_amount = amount_clean(self.cleaned_data["organization_amount"], key=key)
        if org_amount:
            out.append({"organization": True, key: org_amount})
            self.lines.append(("organization", None))
        for form in self.rows.forms:
            if form.cleaned_data.get("DELETE") or form.is_blank():
                continue
            data = form.cleaned_data
            out.append(
                {
                    "email": data["email"],
                    "name": data["name"].strip(),
                    key: amount_clean(data["amount"], key=key),
                }
            )
            self.lines.append(("row", form))
        return basis, out

    def add_line_errors(self, errors: list[dict]) -> None:
        """Put each of the service's line errors (SharesInvalid) next to the field it names."""
        for error in errors:
            kind, form = self.lines[error["index"]]
            message = error["message"]
            if error["duplicateOf"] is not None:
                other_kind, other = self.lines[error["duplicateOf"]]
                where = "the organisation's line" if other_kind == "organization" else None
                if other is not None:
                    where = f"row {self.rows.forms.index(other) + 1}"
                message = f"{message.removesuffix('.')} (also {where})."
            field = SERVICE_FIELDS.get(error["field"])
            if kind == "organization":
                self.add_error("organization_amount", message)
            else:
                form.add_error(field, message)

    def error_summary(self) -> list[tuple[str, str, str]]:
        """(where, field id to link to, message) for the list at the top of the form."""
        out = []
        for message in self.errors.get("organization_amount", []):
            out.append(
                (
                    str(self.fields["organization_amount"].label),
                    self["organization_amount"].auto_id,
                    message,
                )
            )
        for number, form in enumerate(self.rows.forms, start=1):
            for name, messages in form.errors.items():
                target = form[name].auto_id if name in form.fields else form["email"].auto_id
                for message in messages:
                    out.append((f"Row {number}", target, message))
        return out


class SharesCsvForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="The first line names the columns: email, name and percent (or weight). "
        "One contributor per line, up to 100,000 lines; UTF-8.",
    )
    organization_amount = forms.CharField(
        required=False,
        max_length=32,
        help_text="In the file's unit (a percentage or a weight). Leave empty if the "
        "organisation takes no share.",
    )

    def __init__(self, data=None, files=None, *, organization_name: str, initial=None):
        super().__init__(data, files, initial=initial, prefix="csv")
        self.fields["organization_amount"].label = f"{organization_name}’s own share"

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > CSV_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {CSV_MAX_BYTES // (1024 * 1024)} MB."
            )
        return upload.read(CSV_MAX_BYTES + 1)

    def add_line_errors(self, errors: list[dict]) -> list[dict]:
        """The organisation's share's errors go next to it; the others are listed by line."""
        listed = []
        for error in errors:
            if error.get("organization"):
                self.add_error("organization_amount", error["message"])
            else:
                listed.append(error)
        return listed
