"""What staff change from the admin besides the review decisions: a published dataset's
visibility and price, a submission's review note, a member's role. Each is audited with the
acting staff user; a change to what the public catalogue shows invalidates its cache. Who may
call them is the admin's check (`has_perm`); the rules on the data are here."""

from django.db import transaction

from marketplace.catalogue_cache import catalogue_changed
from marketplace.models import Dataset, Membership, Submission, User, Visibility
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, Invalid
from marketplace.services.submissions import MAX_PRICE_CENTS

S = Submission.Status


def dataset_listing_validate(*, visibility: str, is_paid: bool, base_price_cents: int | None):
    """The datasheet's rules for a listing (raises `Invalid`); forms call it to show the error
    next to the fields before `dataset_listing_update` runs."""
    if visibility not in Visibility.values:
        raise Invalid(f"visibility: must be one of {', '.join(Visibility.values)}.")
    if is_paid:
        if base_price_cents is None or not 50 <= base_price_cents <= MAX_PRICE_CENTS:
            raise Invalid(f"basePriceCents: must be between 50 and {MAX_PRICE_CENTS} cents.")
        if visibility == Visibility.PRIVATE:
            raise Invalid("isPaid: a private dataset cannot be sold; make it public or restricted.")


@transaction.atomic
def dataset_listing_update(
    *,
    actor: User,
    dataset: Dataset,
    visibility: str,
    is_paid: bool,
    base_price_cents: int | None,
) -> Dataset:
    """Staff set a published dataset's visibility and price (the datasheet's rules: a paid
    dataset costs 50 cents to MAX_PRICE_CENTS and is not private; free has no price). A removed
    dataset stays removed and unchanged. The next version published from a submission takes
    these from its datasheet again, as any card field."""
    dataset_listing_validate(
        visibility=visibility, is_paid=is_paid, base_price_cents=base_price_cents
    )
    if not is_paid:
        base_price_cents = None
    dataset = Dataset.objects.select_for_update().defer("search_vector").get(pk=dataset.pk)
    if dataset.removed_at is not None:
        raise Conflict("This dataset was removed from the platform; it cannot be changed.")
    before = {
        "visibility": dataset.visibility,
        "isPaid": dataset.is_paid,
        "basePriceCents": dataset.base_price_cents,
    }
    dataset.visibility, dataset.is_paid, dataset.base_price_cents = (
        visibility,
        is_paid,
        base_price_cents,
    )
    after = {"visibility": visibility, "isPaid": is_paid, "basePriceCents": base_price_cents}
    if after != before:
        dataset.save(update_fields=["visibility", "is_paid", "base_price_cents", "updated_at"])
        catalogue_changed()
        audit_record(
            actor=actor,
            organization=dataset.organization,
            action="dataset.listing_update",
            obj=dataset,
            data={"before": before, "after": after},
        )
    return dataset


@transaction.atomic
def submission_review_note_set(*, actor: User, submission: Submission, note: str) -> Submission:
    """The reviewer's note on a submission in review: what the provider reads if it is rejected
    (`submission_reject` takes it as the reason). Only a submission in review takes a note; a
    decided one keeps the note it was decided with. Not on the public catalogue."""
    note = (note or "").strip()
    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    if submission.status != S.IN_REVIEW:
        raise Conflict(
            f"Only a submission in review takes a review note (this one is {submission.status})."
        )
    if submission.review_note != note:
        submission.review_note = note
        submission.save(update_fields=["review_note", "updated_at"])
        audit_record(
            actor=actor,
            organization=submission.organization,
            action="submission.review_note",
            obj=submission,
            data={"note": note},
        )
    return submission


@transaction.atomic
def membership_role_set(*, actor: User, membership: Membership, role: str) -> Membership:
    """Staff change a member's role. The last owner cannot be made a member (nobody would be
    left to run the organisation); owners are locked in pk order, as `membership_remove` does."""
    if role not in Membership.Role.values:
        raise Invalid(f"role: must be one of {', '.join(Membership.Role.values)}.")
    membership = (
        Membership.objects.select_for_update().select_related("organization").get(pk=membership.pk)
    )
    if membership.role == role:
        return membership
    if membership.role == Membership.Role.OWNER:
        owners = list(
            Membership.objects.select_for_update()
            .filter(organization=membership.organization, role=Membership.Role.OWNER)
            .order_by("pk")
        )
        if len(owners) <= 1:
            raise Conflict(
                "The last owner cannot become a member; make another member an owner first.",
                code="last_owner",
            )
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        actor=actor,
        organization=membership.organization,
        action="membership.role_set",
        obj=membership,
        data={"user": membership.user_id, "before": before, "after": role},
    )
    return membership
