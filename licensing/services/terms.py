"""Accepting a dataset's terms: exactly the version the caller read, on the record."""

from django.db import IntegrityError, transaction

from licensing.models import TermsAcceptance, TermsDocument
from licensing.selectors import dataset_terms, private_check
from licensing.terms import Terms
from marketplace.actors import Actor
from marketplace.models import Dataset
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, Invalid


def terms_document_ensure(*, dataset: Dataset, terms: Terms) -> TermsDocument:
    """The stored copy of this exact text (kept forever, referenced by acceptances/grants)."""
    document = TermsDocument.objects.filter(dataset=dataset, terms_hash=terms.hash).first()
    if document is not None:
        return document
    try:
        with transaction.atomic():
            return TermsDocument.objects.create(
                dataset=dataset,
                terms_hash=terms.hash,
                text=terms.text,
                flags=terms.flags,
                license_identifier=terms.license.identifier,
            )
    except IntegrityError:  # a concurrent acceptance stored it first
        return TermsDocument.objects.get(dataset=dataset, terms_hash=terms.hash)


def terms_stale_error(*, dataset: Dataset, given: str, current: str) -> Conflict:
    return Conflict(
        f"The terms of dataset {dataset.public_id} have changed since the version you read "
        f"({given[:12] or 'none'}…). Read them again (GET /api/datasets/{dataset.public_id}/terms) "
        f"and accept the current version, termsHash {current}.",
        code="terms_changed",
        currentTermsHash=current,
    )


@transaction.atomic
def terms_accept(
    *,
    actor: Actor,
    dataset: Dataset,
    terms_hash: str,
    via: str,
    ip: str | None = None,
    user_agent: str = "",
) -> TermsAcceptance:
    """Record that the actor's organisation (through its user, and its key when via the API) accepts the
    dataset's terms whose hash is `terms_hash`. Only the current version can be accepted: a
    stale hash is a 409 naming the current one. Private datasets only for their own
    organisation. Every acceptance is a new row (append-only record)."""
    organization = actor.organization
    private_check(dataset=dataset, organization=organization)
    terms_hash = (terms_hash or "").strip().lower()
    if len(terms_hash) != 64 or any(c not in "0123456789abcdef" for c in terms_hash):
        raise Invalid("termsHash: the SHA-256 (64 hex digits) of the terms you accept.")
    terms = dataset_terms(dataset)
    if terms_hash != terms.hash:
        raise terms_stale_error(dataset=dataset, given=terms_hash, current=terms.hash)
    document = terms_document_ensure(dataset=dataset, terms=terms)
    acceptance = TermsAcceptance.objects.create(
        dataset=dataset,
        document=document,
        terms_hash=terms.hash,
        organization=organization,
        user=actor.user,
        api_key=actor.api_key,
        via=via,
        ip=ip,
        user_agent=user_agent[:500],
    )
    audit_record(
        actor=actor,
        organization=organization,
        action="terms.accept",
        obj=acceptance,
        data={"dataset": dataset.public_id, "termsHash": terms.hash, "via": via},
    )
    return acceptance
