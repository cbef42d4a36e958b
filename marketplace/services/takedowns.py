"""Takedown notices (issue 13 §3): filed by anyone, decided by staff who hold
`marketplace.takedown_dataset`, answered by the provider with a counter-notice.

- Filing needs no account: the notice is checked here (the web form and `POST
  /api/takedown-notices` both call `takedown_notice_file`) and the claimant gets a receipt
  with the notice's reference.
- Accepting removes the dataset (`dataset_remove`: the API answers 410, the web shows a
  tombstone) or, when the notice names a version, that version only (its downloads answer 410);
  every organisation holding a grant is told by a `dataset.removed` event with the reason
  category and what to do. Grants are not revoked: the terms say what happens to data already
  downloaded. The provider's owners are e-mailed, without the claimant's contact details.
- Rejecting needs a reason, which is e-mailed to the claimant.
- A counter-notice (an owner of the provider, once per accepted notice) is recorded, shown to
  staff in the admin and e-mailed to the claimant.
- Staff who may decide are e-mailed a new notice and a counter-notice (takedown_mail.py).
Every step writes an audit row in its transaction; e-mails go after commit."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from marketplace.actors import Actor
from marketplace.catalogue_cache import catalogue_changed
from marketplace.events.signals import dataset_removed
from marketplace.models import (
    CounterNotice,
    Dataset,
    DatasetVersion,
    TakedownNotice,
    User,
    Visibility,
)
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.services.review import dataset_remove
from marketplace.services.takedown_mail import (
    mail_after_commit,
    mail_deciders,
    notice_url,
    owner_emails,
)

TAKEDOWN_PERMISSION = "marketplace.takedown_dataset"
Basis = TakedownNotice.Basis
Status = TakedownNotice.Status
MAX_MEMBERS_CHARS = 20_000
MAX_DESCRIPTION_CHARS = 10_000

# What a licensee is asked to do, by reason category: their grant stays in force (the terms they
# accepted govern data already downloaded); these are the steps the platform's terms ask for.
WHAT_TO_DO = {
    Basis.COPYRIGHT: (
        "A rights holder showed that the provider could not license the members concerned. "
        "Stop using and distributing them (and anything that reproduces them) and delete your "
        "copies; your grant is not revoked and covers the rest as your accepted terms say."
    ),
    Basis.PERSONAL_DATA: (
        "The members concerned contain personal data that may not be processed. Delete your "
        "copies of them and of anything derived from them that still contains that data; your "
        "grant is not revoked and covers the rest as your accepted terms say."
    ),
    Basis.CONSENT: (
        "A person in the data did not consent (or withdrew consent). Delete your copies of the "
        "members concerned and stop training on them; your grant is not revoked and covers the "
        "rest as your accepted terms say."
    ),
    Basis.OTHER: (
        "The dataset was removed for the reason given. Check your accepted terms for how to "
        "handle data already downloaded; your grant is not revoked."
    ),
}


def _can_decide(actor: User) -> None:
    if actor is None or not actor.is_active or not actor.has_perm(TAKEDOWN_PERMISSION):
        raise Forbidden("Deciding takedown notices needs the takedown permission.")


def _notice_dataset(id_or_slug: str) -> Dataset:
    """A published, listed dataset (a private one does not exist for the public: 404)."""
    dataset = (
        Dataset.objects.select_related("organization")
        .filter(Q(public_id=id_or_slug) | Q(slug=id_or_slug))
        .first()
    )
    if dataset is None or dataset.latest_version_id is None:
        raise NotFound(f"Dataset {id_or_slug} not found.")
    if dataset.visibility == Visibility.PRIVATE:
        raise NotFound(f"Dataset {id_or_slug} not found.")
    if dataset.removed_at is not None:
        raise Conflict("This dataset was already removed.", code="dataset_removed")
    return dataset


def takedown_notice_validate(
    *,
    claimant_name: str,
    contact_email: str,
    basis: str,
    members: str,
    description: str,
    good_faith: bool,
) -> dict[str, str]:
    """Field -> what is wrong, in the claimant's words (empty when the notice is complete)."""
    errors: dict[str, str] = {}
    if not (claimant_name or "").strip():
        errors["claimant_name"] = "Give your name (or your organisation's)."
    elif len(claimant_name.strip()) > 200:
        errors["claimant_name"] = "At most 200 characters."
    try:
        validate_email((contact_email or "").strip())
    except ValidationError:
        errors["contact_email"] = "Give an e-mail address we can reach you at."
    if basis not in Basis.values:
        errors["basis"] = "Choose one of: " + ", ".join(Basis.values) + "."
    if len(members or "") > MAX_MEMBERS_CHARS:
        errors["members"] = f"At most {MAX_MEMBERS_CHARS} characters."
    if not (description or "").strip():
        errors["description"] = "Describe what is wrong and why you may ask for its removal."
    elif len(description) > MAX_DESCRIPTION_CHARS:
        errors["description"] = f"At most {MAX_DESCRIPTION_CHARS} characters."
    if good_faith is not True:
        errors["good_faith"] = "Confirm the statement of good faith."
    return errors


@transaction.atomic
def takedown_notice_file(
    *,
    actor: Actor | None,
    dataset: str,
    claimant_name: str,
    contact_email: str,
    basis: str,
    description: str,
    good_faith: bool,
    members: str = "",
    version: int | None = None,
) -> TakedownNotice:
    """Record a notice about `dataset` (id or slug; a version number when it concerns one
    version). No account needed (`actor` None); a notice with a missing or wrong field is
    refused as a whole (Invalid, with `fields`) and writes nothing."""
    errors = takedown_notice_validate(
        claimant_name=claimant_name,
        contact_email=contact_email,
        basis=basis,
        members=members,
        description=description,
        good_faith=good_faith,
    )
    target = _notice_dataset(dataset)
    named_version = None
    if version is not None:
        named_version = DatasetVersion.objects.filter(dataset=target, number=version).first()
        if named_version is None:
            errors["version"] = f"This dataset has no version {version}."
    if errors:
        raise Invalid(
            "The notice is incomplete: " + " ".join(errors.values()),
            code="invalid_takedown_notice",
            fields=errors,
        )
    notice = TakedownNotice.objects.create(
        dataset=target,
        version=named_version,
        claimant_name=claimant_name.strip(),
        contact_email=contact_email.strip(),
        basis=basis,
        members="\n".join(line.strip() for line in (members or "").splitlines() if line.strip()),
        description=description.strip(),
        good_faith=True,
    )
    audit_record(
        actor=actor,
        organization=target.organization,
        action="takedown_notice.file",
        obj=notice,
        data={"reference": notice.reference, "dataset": target.public_id, "basis": basis},
    )
    mail_after_commit(
        f"Your takedown notice {notice.reference} was received",
        f"We received your takedown notice about the dataset “{target.name}” "
        f"({target.public_id}{f', version {version}' if named_version else ''}).\n\n"
        f"Reference: {notice.reference}\nBasis: {notice.get_basis_display()}\n\n"
        "Our staff review every notice; we will write to you at this address when it is "
        "decided. Quote the reference in any reply.",
        [notice.contact_email],
    )
    mail_deciders(
        notice,
        f"New takedown notice {notice.reference} ({notice.get_basis_display()})",
        f"A takedown notice about “{target.name}” ({target.public_id}"
        f"{f', version {version}' if named_version else ''}) was filed and waits for a decision.",
    )
    return notice


# --- staff decisions ---------------------------------------------------------------------------


def _locked_received(notice: TakedownNotice) -> TakedownNotice:
    notice = (
        TakedownNotice.objects.select_for_update(of=("self",))
        .select_related("dataset", "dataset__organization", "version")
        .get(pk=notice.pk)
    )
    if notice.status != Status.RECEIVED:
        raise Conflict(f"Notice {notice.reference} was already {notice.status}.")
    return notice


def removal_details(notice: TakedownNotice) -> dict:
    """What licensees are told of a removal on this notice (the `dataset.removed` event)."""
    return {
        "reasonCategory": notice.basis,
        "whatToDo": WHAT_TO_DO[notice.basis],
        "takedownNotice": notice.reference,
        "members": notice.member_paths,
        "version": notice.version.number if notice.version_id else None,
        "grantRevoked": False,
    }


def _version_remove(*, notice, actor, reason: str, details: dict, now) -> None:
    """One version goes: its downloads answer 410. When it was the latest, the dataset falls
    back to its latest remaining version; when none remains, the whole dataset is removed."""
    dataset = Dataset.objects.select_for_update().get(pk=notice.dataset_id)
    if dataset.removed_at is not None:
        return
    if dataset.latest_version_id == notice.version_id:
        previous = (
            dataset.versions.exclude(number__in=removed_version_numbers(dataset=dataset))
            .exclude(pk=notice.version_id)
            .order_by("-number")
            .first()
        )
        if previous is None:  # nothing left: the whole dataset goes
            details = {**details, "version": None}
            dataset_remove(dataset=dataset, actor=actor, reason=reason, details=details)
            return
        dataset.latest_version = previous
        dataset.size_bytes = previous.size_bytes
        dataset.has_sample = bool(previous.sample_key and previous.sample_size_bytes)
        dataset.save(update_fields=["latest_version", "size_bytes", "has_sample", "updated_at"])
        catalogue_changed()
    details["removedAt"] = now.isoformat()
    dataset_removed.send(sender=Dataset, dataset=dataset, reason=reason, details=details)


@transaction.atomic
def takedown_notice_accept(*, notice: TakedownNotice, actor: User) -> TakedownNotice:
    """Remove what the notice names: the whole dataset, or only the named version."""
    _can_decide(actor)
    notice = _locked_received(notice)
    now = timezone.now()
    notice.status = Status.ACCEPTED
    notice.decided_at = now
    notice.decided_by = actor
    notice.save(update_fields=["status", "decided_at", "decided_by"])
    dataset = notice.dataset
    reason = f"Takedown notice {notice.reference} ({notice.get_basis_display()})"
    details = removal_details(notice)
    if notice.version_id is None:
        dataset_remove(dataset=dataset, actor=actor, reason=reason, details=details)
    else:
        _version_remove(notice=notice, actor=actor, reason=reason, details=details, now=now)
    audit_record(
        actor=actor,
        organization=dataset.organization,
        action="takedown_notice.accept",
        obj=notice,
        data={"reference": notice.reference, "dataset": dataset.public_id, **details},
    )
    what = f"version {notice.version.number} of" if notice.version_id else "your dataset"
    members = "\n".join(f"  {path}" for path in notice.member_paths) or "  (not named)"
    mail_after_commit(
        f"Takedown: {dataset.name} was removed",
        f"Our staff accepted a takedown notice ({notice.reference}) and removed {what} "
        f"“{dataset.name}” ({dataset.public_id}).\n\n"
        f"Reason category: {notice.get_basis_display()}\nMembers concerned:\n{members}\n\n"
        f"What the claimant says:\n{notice.description}\n\n"
        "Organisations holding a grant were told; their grants are not revoked. If you believe "
        f"the notice is wrong, file a counter-notice from your workspace: {notice_url(notice)}",
        owner_emails(dataset.organization_id),
    )
    return notice


@transaction.atomic
def takedown_notice_reject(*, notice: TakedownNotice, actor: User, reason: str) -> TakedownNotice:
    """Refuse the notice; the reason is e-mailed to the claimant. Nothing is removed."""
    _can_decide(actor)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("A rejection needs a reason the claimant can read.", code="reason_required")
    notice = _locked_received(notice)
    notice.status = Status.REJECTED
    notice.decision_reason = reason
    notice.decided_at = timezone.now()
    notice.decided_by = actor
    notice.save(update_fields=["status", "decision_reason", "decided_at", "decided_by"])
    audit_record(
        actor=actor,
        organization=notice.dataset.organization,
        action="takedown_notice.reject",
        obj=notice,
        data={"reference": notice.reference, "reason": reason},
    )
    mail_after_commit(
        f"Your takedown notice {notice.reference} was not accepted",
        f"Our staff reviewed your takedown notice {notice.reference} about the dataset "
        f"“{notice.dataset.name}” and did not accept it, for this reason:\n\n{reason}\n\n"
        "The dataset stays available. You may file a new notice with more detail.",
        [notice.contact_email],
    )
    return notice


# --- the provider's side -----------------------------------------------------------------------


def takedown_notices_of_organization(*, actor: Actor):
    """The accepted notices about the actor's organisation's datasets, newest first."""
    return (
        TakedownNotice.objects.filter(
            dataset__organization=actor.organization, status=Status.ACCEPTED
        )
        .select_related("dataset", "version", "counter_notice")
        .order_by("-decided_at", "-pk")
    )


def takedown_notice_get(*, actor: Actor, reference: str) -> TakedownNotice:
    """One accepted notice about the actor's organisation's dataset; anything else is 404."""
    notice = takedown_notices_of_organization(actor=actor).filter(reference=reference).first()
    if notice is None:
        raise NotFound(f"Takedown notice {reference} not found.")
    return notice


@transaction.atomic
def counter_notice_file(
    *, actor: Actor, notice: TakedownNotice, statement: str, contact: str
) -> CounterNotice:
    """An owner of the provider answers an accepted notice (once). Recorded for staff, and
    the claimant is sent the statement and the contact the provider chose to give."""
    notice = takedown_notice_get(actor=actor, reference=notice.reference)
    if not actor.is_owner:
        raise Forbidden("Only an owner of the organisation can file a counter-notice.")
    errors = {}
    if not (statement or "").strip():
        errors["statement"] = "Say why the removed data may be published."
    elif len(statement) > MAX_DESCRIPTION_CHARS:
        errors["statement"] = f"At most {MAX_DESCRIPTION_CHARS} characters."
    if not (contact or "").strip():
        errors["contact"] = "Give a contact the claimant and our staff can reach."
    elif len(contact.strip()) > 300:
        errors["contact"] = "At most 300 characters."
    if errors:
        raise Invalid(
            "The counter-notice is incomplete: " + " ".join(errors.values()),
            code="invalid_counter_notice",
            fields=errors,
        )
    TakedownNotice.objects.select_for_update().get(pk=notice.pk)
    if CounterNotice.objects.filter(notice=notice).exists():
        raise Conflict("A counter-notice was already filed for this notice.")
    counter = CounterNotice.objects.create(
        notice=notice,
        organization=actor.organization,
        statement=statement.strip(),
        contact=contact.strip(),
        filed_by=actor.user,
    )
    audit_record(
        actor=actor,
        organization=actor.organization,
        action="takedown_notice.counter_notice",
        obj=counter,
        data={"reference": notice.reference},
    )
    mail_after_commit(
        f"Counter-notice to your takedown notice {notice.reference}",
        f"The provider of “{notice.dataset.name}” filed a counter-notice to your takedown "
        f"notice {notice.reference}.\n\nTheir statement:\n{counter.statement}\n\n"
        f"Their contact: {counter.contact}\n\nOur staff have it on record.",
        [notice.contact_email],
    )
    mail_deciders(
        notice,
        f"Counter-notice to takedown notice {notice.reference}",
        f"The provider of “{notice.dataset.name}” ({notice.dataset.public_id}) filed a "
        f"counter-notice to the accepted notice {notice.reference}.\n\nTheir statement:\n"
        f"{counter.statement}\n\nTheir contact: {counter.contact}",
    )
    return counter


def version_removal(*, version: DatasetVersion) -> TakedownNotice | None:
    """The accepted notice that removed this one version, if any."""
    return (
        TakedownNotice.objects.filter(version=version, status=Status.ACCEPTED)
        .order_by("decided_at")
        .first()
    )


def dataset_removal_notice(*, dataset: Dataset) -> TakedownNotice | None:
    """The accepted notice behind a dataset's removal (the last one accepted by then: a notice
    about its last remaining version removes the whole dataset), if it came from one."""
    if dataset.removed_at is None:
        return None
    return (
        TakedownNotice.objects.filter(
            dataset=dataset, status=Status.ACCEPTED, decided_at__lte=dataset.removed_at
        )
        .order_by("-decided_at", "-pk")
        .first()
    )


def removed_version_numbers(*, dataset: Dataset) -> set[int]:
    """The numbers of the dataset's versions removed one by one by accepted notices."""
    return set(
        TakedownNotice.objects.filter(
            dataset=dataset, version__isnull=False, status=Status.ACCEPTED
        ).values_list("version__number", flat=True)
    )
