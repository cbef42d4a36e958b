"""The "Contributors and shares" step of a submission: who shares the dataset's base price.

The table is staged on the submission (contributors.services.share_drafts) and becomes the
dataset's share table when staff approve the submission (or, for a published dataset, its next
version). Owners edit it here, row by row (the page's script adds and removes rows and keeps a
live total; without it, blank rows are offered and a checkbox removes one), or import a CSV file
of thousands of lines. Members see it read-only, with e-mails masked. For a published dataset
the page also shows the table in force, with where each contributor's invitation stands."""

import csv
import dataclasses
import io

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from contributors.models import Payee, ShareLine, ShareTable
from contributors.serializers import email_mask
from contributors.services.share_csv import (
    SharesCsvInvalid,
    share_draft_import_csv,
)
from contributors.services.share_drafts import (
    SharesInvalid,
    share_draft_editable,
    share_draft_get,
    share_draft_set,
    share_draft_wire_lines,
)
from contributors.services.shares import basis_points_format
from contributors.share_selectors import (
    CLAIMED,
    EXPIRED,
    INVITED,
    NOT_INVITED,
    amount_text,
    current_shares,
    draft_rows,
    share_table_latest,
    table_wire_lines,
)
from marketplace.csv_safe import csv_cell
from marketplace.services.errors import Invalid, ServiceError
from web.decorators import actor_required, money_settings_allowed
from web.share_forms import (
    EDITOR_MAX_ROWS,
    SharesCsvForm,
    SharesEditorForm,
    amount_key,
)
from web.views.submissions import _submission, stepper_context

PREVIEW_ROWS = 50  # lines of a table too large for the editor shown on the page
CURRENT_ROWS = 100  # lines of the table in force shown (the counts cover all of them)
ERRORS_SHOWN = 1_000  # bad lines of a CSV listed (the count covers all of them)


@dataclasses.dataclass(frozen=True)
class _Source:
    """What the editor starts from."""

    basis: str
    lines: list[dict] | None  # as the service takes them; None: too many for the editor
    count: int
    organization_amount: str  # the organisation's own line ("" when it has none)


def _source(submission, draft) -> _Source:
    """The pending draft, else the published dataset's table, else the default (everything
    to the organisation)."""
    if draft is not None and draft.is_pending:
        org = next((line for line in draft.lines if line["organization"]), None)
        small = draft.line_count <= EDITOR_MAX_ROWS + 1
        return _Source(
            basis=draft.basis,
            lines=share_draft_wire_lines(basis=draft.basis, lines=draft.lines) if small else None,
            count=draft.line_count,
            organization_amount=amount_text(draft.basis, org["weight"]) if org else "",
        )
    table = share_table_latest(submission.dataset) if submission.dataset_id else None
    if table is not None:
        lines = ShareLine.objects.filter(table=table)
        count = lines.count()
        org = lines.filter(payee__kind=Payee.Kind.ORGANIZATION).first()
        return _Source(
            basis=table.basis,
            lines=table_wire_lines(table) if count <= EDITOR_MAX_ROWS + 1 else None,
            count=count,
            organization_amount=amount_text(table.basis, org.weight) if org else "",
        )
    return _Source(
        basis=ShareTable.Basis.PERCENTAGE,
        lines=[{"organization": True, "percent": "100.00"}],
        count=1,
        organization_amount="100.00",
    )


def _editor_initial(source: _Source):
    key = amount_key(source.basis)
    rows = [
        {"email": line["email"], "name": line.get("name", ""), "amount": str(line[key])}
        for line in source.lines or []
        if not line.get("organization")
    ]
    return {"basis": source.basis, "organization_amount": source.organization_amount}, rows


def _plain(message: str) -> str:
    text = message.removeprefix("shares: ")
    return text[:1].upper() + text[1:]


def _saved_message(draft, submission) -> str:
    contributors = sum(1 for line in draft.lines if not line["organization"])
    when = (
        "staff approve its next version"
        if submission.dataset_id
        else "staff approve this submission"
    )
    return (
        f"Saved: {contributors:,} contributor{'s' if contributors != 1 else ''}. These shares "
        f"become the dataset's revenue shares when {when}; contributors are invited then."
    )


def _masked(row):
    """Members who are not owners see a@… forms of contributors' e-mails, as in the API."""
    return dataclasses.replace(row, email=email_mask(row.email) if row.email else "")


def _cell(value: str) -> str:
    return csv_cell(value)


def _download(request, submission, draft) -> HttpResponse:
    """The staged table (or the one in force) as a CSV the import reads back; the
    organisation's own share is not a line of it (the import takes it beside the file)."""
    if not request.actor.is_owner:
        raise Http404("Only owners can download the shares.")
    basis = _source(submission, draft).basis
    if draft is not None and draft.is_pending:
        lines = share_draft_wire_lines(basis=draft.basis, lines=draft.lines)
    elif submission.dataset_id and (table := share_table_latest(submission.dataset)):
        lines = table_wire_lines(table)
    else:
        lines = []
    key = amount_key(basis)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["email", "name", key])
    for line in lines:
        if not line.get("organization"):
            writer.writerow([_cell(line["email"]), _cell(line.get("name", "")), line[key]])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{submission.public_id}-shares.csv"'
    return response


def _status(exc: ServiceError) -> int:
    return 400 if isinstance(exc, Invalid) else exc.status_code


def _save(request, submission, org_name):
    """The editor's POST: (redirect when saved, the bound form, status)."""
    editor = SharesEditorForm(request.POST, organization_name=org_name)
    if not editor.is_valid():
        return None, editor, 400
    basis, shares = editor.shares()
    try:
        draft = share_draft_set(
            actor=request.actor, submission=submission, basis=basis, shares=shares
        )
    except SharesInvalid as exc:
        editor.add_line_errors(exc.extra["errors"])
        editor.add_error(None, exc.message)
        return None, editor, 400
    except ServiceError as exc:
        editor.add_error(None, _plain(exc.message))
        return None, editor, _status(exc)
    messages.success(request, _saved_message(draft, submission))
    then = "submit" if request.POST.get("then") == "submit" else "shares"
    return redirect(f"web:submission_{then}", submission_id=submission.public_id), editor, 302


def _import(request, submission, org_name):
    """The CSV import's POST: (redirect when saved, the bound form, its lines' errors, status)."""
    form = SharesCsvForm(request.POST, request.FILES, organization_name=org_name)
    if not form.is_valid():
        return None, form, [], 400
    try:
        draft = share_draft_import_csv(
            actor=request.actor,
            submission=submission,
            data=form.cleaned_data["file"],
            organization_share=form.cleaned_data["organization_amount"],
        )
    except SharesCsvInvalid as exc:
        listed = form.add_line_errors(exc.extra["errors"])
        if len(listed) == 1 and listed[0]["message"] == exc.message:
            # A problem of the whole file: said once, with its line when it has one.
            only = listed.pop()
            form.add_error(
                None, f"Line {only['line']}: {exc.message}" if only["line"] else exc.message
            )
        else:
            form.add_error(None, exc.message)
        return None, form, listed, 400
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return None, form, [], _status(exc)
    messages.success(request, _saved_message(draft, submission))
    return redirect("web:submission_shares", submission_id=submission.public_id), form, [], 302


@actor_required
@require_http_methods(["GET", "POST"])
def submission_shares(request, submission_id: str):
    submission = _submission(request, submission_id)
    actor = request.actor
    draft = share_draft_get(submission=submission)
    if request.method == "GET" and request.GET.get("download") == "csv":
        return _download(request, submission, draft)
    org_name = submission.organization.name
    editable = share_draft_editable(submission)
    can_edit = actor.is_owner and editable
    source = _source(submission, draft)
    initial, rows_initial = _editor_initial(source)

    editor = csv_form = None
    csv_errors: list[dict] = []
    status = 200
    if request.method == "POST":
        if not money_settings_allowed(request):
            return redirect("mfa_index")
        if request.POST.get("action") == "import":
            done, csv_form, csv_errors, status = _import(request, submission, org_name)
        else:
            done, editor, status = _save(request, submission, org_name)
        if done is not None:
            return done

    if editor is None and can_edit and source.lines is not None:
        editor = SharesEditorForm(
            organization_name=org_name, initial=initial, rows_initial=rows_initial
        )
    if csv_form is None and can_edit:
        csv_form = SharesCsvForm(
            organization_name=org_name,
            initial={"organization_amount": initial["organization_amount"]},
        )

    reveal = actor.is_owner
    preview = None
    if draft is not None and draft.is_pending and (editor is None or source.lines is None):
        preview = draft_rows(draft, organization_name=org_name, limit=PREVIEW_ROWS)
        if not reveal:
            preview = [_masked(row) for row in preview]
    current = (
        current_shares(submission.dataset, limit=CURRENT_ROWS) if submission.dataset_id else None
    )
    current_rows = current.rows if current else []
    if current and not reveal:
        current_rows = [_masked(row) for row in current_rows]
    context = stepper_context(
        submission,
        "shares",
        organization_name=org_name,
        draft=draft,
        can_edit=can_edit,
        shares_editable=editable,
        editor=editor,
        editor_summary=editor.error_summary() if editor is not None and editor.is_bound else [],
        csv_form=csv_form,
        csv_errors=csv_errors[:ERRORS_SHOWN],
        csv_errors_more=max(0, len(csv_errors) - ERRORS_SHOWN),
        basis=source.basis,
        line_count=source.count,
        too_big_for_editor=source.lines is None,
        editor_max_rows=EDITOR_MAX_ROWS,
        preview=preview,
        draft_total=_total_text(draft) if draft is not None else "",
        current=current,
        current_rows=current_rows,
        current_counts=[
            (label, current.counts[label]) for label in (CLAIMED, INVITED, EXPIRED, NOT_INVITED)
        ]
        if current
        else [],
        is_owner=actor.is_owner,
    )
    return render(request, "web/submissions/shares.html", context, status=status)


def _total_text(draft) -> str:
    if draft.basis == ShareTable.Basis.PERCENTAGE:
        return f"{basis_points_format(draft.total_weight)} %"
    return f"total weight {draft.total_weight:,}"
