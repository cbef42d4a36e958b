"""Revenue shares staged on a submission, before its dataset exists.

A share table belongs to a Dataset, and a Dataset only exists once staff approve the first
submission; yet the stepper asks for the contributors and their shares before the submission is
sent for review. So the owner's table is staged on the submission (`ShareTableDraft`) and
becomes the dataset's share table when staff publish the submission's next version.

The rule:
- An owner may save the draft while the submission is a draft or rejected (it applies at the
  first approval) or already published (it applies when the next version of that submission is
  approved). While the submission is submitted, checked or in review it is locked: what staff
  approve is what applies.
- When a DatasetVersion is published (`marketplace.services.review.submission_approve`; this
  app reacts to its post_save, see contributors.signals) the submission's pending draft is
  validated again and written as the dataset's next share table, inside the approval's
  transaction: if it cannot be applied, the approval fails and nothing is published. The table
  is written by the system (no owner check then; the audit row names the approval), the draft is
  marked applied, and contributors without an account are invited after commit, as
  `share_table_set` does. Nobody is invited or even recorded as a contributor before that.
- A submission published without a draft keeps today's default (100 % to the organisation,
  created at the first sale). A published dataset's table can still be changed at once with
  PUT /api/datasets/{id}/shares; a later draft applied at the next version replaces it then.

Lock order: submission → dataset → draft (the review locks the submission, then the dataset).
"""

import re

from django.db import transaction
from django.utils import timezone

from contributors.models import ShareTable, ShareTableDraft
from contributors.services.payees import organization_owner_check, payee_for_organization
from contributors.services.shares import (
    ShareSpec,
    basis_points_format,
    contributor_payees,
    dataset_lock,
    invite_after_commit,
    share_table_write,
    shares_parse,
)
from marketplace.actors import Actor
from marketplace.models import DatasetVersion, Submission
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, Forbidden, Invalid
from marketplace.services.submissions import submission_get_for_org

S = Submission.Status
# Where the draft may change: before the first review, and between versions of a published
# submission (a new upload sends it back to review, which locks the draft until decided).
DRAFT_EDITABLE = {S.DRAFT, S.REJECTED, S.APPROVED}

# shares_parse names the line it refuses: "shares[3].percent: must be more than 0 (got 0)."
_LINE_MESSAGE = re.compile(r"^shares\[(\d+)\](?:\.(\w+))?: (.*)$", re.DOTALL)


class SharesInvalid(Invalid):
    """A share table with bad lines. `extra["errors"]`: every bad line, in order, as
    {"index": i (in the list given), "field": "email"|"percent"|"weight"|"name"|"", "message",
    "duplicateOf": the index of the line the party already appeared on, or None}."""

    code = "shares_invalid"


def _line_error(index: int, message: str, *, duplicate_of: int | None = None) -> dict:
    match = _LINE_MESSAGE.match(message)
    field, text = (match.group(2) or "", match.group(3)) if match else ("", message)
    return {"index": index, "field": field, "message": text, "duplicateOf": duplicate_of}


_ORGANIZATION = "the organisation"


def _party(line) -> str:
    """Who a line names, as shares_parse tells parties apart ("" when it cannot tell)."""
    if not isinstance(line, dict):
        return ""
    if line.get("organization") is True:
        return _ORGANIZATION
    email = line.get("email")
    return email.strip().lower() if isinstance(email, str) else ""


def shares_check(*, basis, shares) -> tuple[str, list[ShareSpec]]:
    """`shares_parse` (the same rules as a dataset's share table), reporting every bad line
    instead of the first. A table it accepts is returned as it parsed it; when it names a bad
    line, each line is parsed again on its own and parties are checked for repeats, and
    SharesInvalid lists every bad line. A problem of the table as a whole (basis, no lines,
    too many lines, percentages not summing to 100) is shares_parse's Invalid, unchanged."""
    try:
        return shares_parse(basis=basis, shares=shares)  # a valid table: one pass
    except Invalid as exc:
        if not _LINE_MESSAGE.match(exc.message):
            raise  # the table as a whole: its basis, its size, its sum
        first_problem = exc
    errors: list[dict] = []
    seen: dict[str, int] = {}
    for index, line in enumerate(shares):
        party = _party(line)
        try:
            shares_parse(basis=basis, shares=[line])
        except Invalid as exc:
            # One line of a percentage table alone does not sum to 100; the whole table is
            # checked for that below. Anything else is this line's own problem.
            if exc.code != "shares_not_100":
                errors.append(_line_error(index, exc.message))
                if party:
                    seen.setdefault(party, index)
                continue
        is_org = party == _ORGANIZATION
        if party in seen:
            errors.append(
                {
                    "index": index,
                    "field": "" if is_org else "email",
                    "message": f"{party} appears more than once.",
                    "duplicateOf": seen[party],
                }
            )
        else:
            seen[party] = index
    if not errors:  # cannot happen: the whole table's parse named a line
        raise first_problem
    raise SharesInvalid(
        f"{len(errors):,} line{'s' if len(errors) != 1 else ''} of the share table "
        f"{'have' if len(errors) != 1 else 'has'} problems; nothing was saved.",
        errors=errors,
    )


def _spec_json(spec: ShareSpec) -> dict:
    return {
        "organization": spec.organization,
        "email": spec.email,
        "name": spec.name,
        "weight": spec.weight,
    }


def share_draft_wire_lines(*, basis: str, lines: list[dict]) -> list[dict]:
    """Stored draft lines back in the shape `shares_parse` (and the API) take."""
    amount_key = "percent" if basis == ShareTable.Basis.PERCENTAGE else "weight"
    out = []
    for line in lines:
        amount = basis_points_format(line["weight"]) if amount_key == "percent" else line["weight"]
        if line["organization"]:
            out.append({"organization": True, "name": line.get("name", ""), amount_key: amount})
        else:
            out.append({"email": line["email"], "name": line.get("name", ""), amount_key: amount})
    return out


def share_draft_editable(submission: Submission) -> bool:
    return submission.status in DRAFT_EDITABLE


def share_draft_get(*, submission: Submission) -> ShareTableDraft | None:
    """The submission's draft, pending or applied (`is_pending`); its `lines` are loaded only
    when read (a draft may name 100,000 contributors)."""
    return (
        ShareTableDraft.objects.filter(submission=submission)
        .select_related("updated_by", "applied_table")
        .defer("lines")
        .first()
    )


def share_draft_target(*, actor: Actor, submission: Submission) -> Submission:
    """The submission whose shares an owner is about to stage, locked, if they may now (owners
    of its organisation only; DRAFT_EDITABLE). Inside the caller's transaction."""
    organization_owner_check(
        actor=actor, organization=submission.organization, action="change revenue shares"
    )
    submission = submission_get_for_org(
        organization=actor.organization, submission_id=submission.public_id, lock=True
    )
    if not share_draft_editable(submission):
        raise Forbidden(
            f"This submission is {submission.get_status_display().lower()}: its revenue shares "
            "are locked until staff decide; they apply when it is approved.",
            code="submission_locked",
        )
    return submission


def share_draft_store(
    *, actor: Actor, submission: Submission, basis: str, specs: list[ShareSpec]
) -> ShareTableDraft:
    """Save checked lines (`shares_check`) as the draft of a submission `share_draft_target`
    returned. Saving the same pending table again changes nothing."""
    lines = [_spec_json(spec) for spec in specs]
    draft = ShareTableDraft.objects.select_for_update().filter(submission=submission).first()
    if draft is not None and draft.is_pending and draft.basis == basis and draft.lines == lines:
        return draft
    if draft is None:
        draft = ShareTableDraft(submission=submission)
    draft.basis = basis
    draft.lines = lines
    draft.line_count = len(lines)
    draft.total_weight = sum(spec.weight for spec in specs)
    draft.updated_by = actor.user
    draft.applied_at = None
    draft.applied_table = None
    draft.save()
    audit_record(
        actor=actor,
        organization=submission.organization,
        action="share_draft.set",
        obj=draft,
        data={
            "submission": submission.public_id,
            "dataset": submission.dataset.public_id if submission.dataset_id else None,
            "basis": basis,
            "lines": len(lines),
        },
    )
    return draft


@transaction.atomic
def share_draft_set(*, actor: Actor, submission: Submission, basis, shares) -> ShareTableDraft:
    """Stage the revenue shares of a submission, as entered by an owner of its organisation,
    while the submission may change (DRAFT_EDITABLE). The same validation as a dataset's share
    table (`shares_parse`), with every bad line listed (SharesInvalid). Saving the same pending
    table again changes nothing. No contributor is created or invited here: that happens when
    the draft is applied at publication (`share_draft_apply`)."""
    submission = share_draft_target(actor=actor, submission=submission)
    basis, specs = shares_check(basis=basis, shares=shares)
    return share_draft_store(actor=actor, submission=submission, basis=basis, specs=specs)


def share_draft_apply(*, version: DatasetVersion) -> ShareTable | None:
    """Make the pending draft of the version's submission the dataset's share table. Called by
    the system when the version is published, inside the approval's transaction, so there is
    no owner check (an owner saved the draft); the audit row names the approval (the staff user
    who published, the submission and the version). The draft is validated again: a draft that
    is no longer valid makes the approval fail (Conflict), and rejecting the submission lets
    its organisation fix the draft. A draft equal to the current table creates no new version.
    Contributors without an account are invited after commit. None when there is no pending
    draft (the dataset keeps its table, or gets the default one at its first sale)."""
    if not ShareTableDraft.objects.filter(
        submission_id=version.submission_id, applied_at__isnull=True
    ).exists():
        return None
    with transaction.atomic():
        dataset = dataset_lock(version.dataset)
        draft = (
            ShareTableDraft.objects.select_for_update()
            .select_related("submission")
            .filter(submission_id=version.submission_id, applied_at__isnull=True)
            .first()
        )
        if draft is None:
            return None
        try:
            basis, specs = shares_parse(
                basis=draft.basis,
                shares=share_draft_wire_lines(basis=draft.basis, lines=draft.lines),
            )
        except Invalid as exc:
            raise Conflict(
                "The revenue shares staged on this submission are not valid any more "
                f"({exc.message}). Reject the submission so that its organisation can fix them.",
                code="share_draft_invalid",
            ) from None

        org_payee = payee_for_organization(dataset.organization)
        by_email = contributor_payees(specs)
        wanted = [(org_payee if s.organization else by_email[s.email], s) for s in specs]
        contributor_ids = [payee.contributor_id for payee, _ in wanted if payee.contributor_id]
        # Whose numbers these are: the owner who staged them.
        table, current, created = share_table_write(
            dataset=dataset, basis=basis, wanted=wanted, created_by=draft.updated_by
        )
        draft.applied_at = timezone.now()
        draft.applied_table = table
        draft.save(update_fields=["applied_at", "applied_table"])
        audit_record(
            actor=version.published_by,
            organization=dataset.organization,
            action="share_table.apply_draft",
            obj=table,
            data={
                "dataset": dataset.public_id,
                "version": table.version,
                "previousVersion": current.version if current else None,
                "created": created,
                "basis": basis,
                "lines": len(wanted),
                "submission": draft.submission.public_id,
                "datasetVersion": version.number,
                "stagedBy": draft.updated_by_id,
                "stagedAt": draft.updated_at.isoformat(),
            },
        )
        invite_after_commit(dataset=dataset, contributor_ids=contributor_ids)
        return table
