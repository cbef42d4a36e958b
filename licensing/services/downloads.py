"""Download sessions (MDC E4/E6): decide whether the caller's organisation may download, hand
out a short-lived presigned GET URL of the object store, record the session."""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from licensing.errors import PaymentRequired
from licensing.models import AccessRequest, DownloadSession
from licensing.models.downloads import new_download_id
from licensing.request_meta import source_function
from licensing.selectors import AccessFacts, dataset_terms, download_context, private_check
from marketplace.actors import Actor
from marketplace.models import Dataset, DatasetVersion, Organization, Visibility
from marketplace.prepared import prepared_cursor
from marketplace.pricing import pricing_object
from marketplace.services.errors import Conflict, Forbidden, Gone, NotFound
from marketplace.services.takedowns import version_removal
from marketplace.storage import presign_download

Kind = DownloadSession.Kind
Basis = DownloadSession.Basis


def terms_page_url(dataset: Dataset) -> str:
    return f"{settings.PUBLIC_BASE_URL}/datasets/{dataset.public_id}/terms"


def _restricted_error(*, dataset: Dataset, request: dict | None) -> Forbidden:
    where = f"POST /api/datasets/{dataset.public_id}/access-requests"
    if request is None:
        message = (
            f"Dataset {dataset.public_id} is restricted: its publisher must approve your "
            f"organisation's access request first. Request access with {where}."
        )
    elif request["status"] == AccessRequest.Status.PENDING:
        message = (
            f"Dataset {dataset.public_id} is restricted and your organisation's access request "
            f"{request['id']} is still pending the publisher's decision."
        )
    else:
        message = (
            f"Dataset {dataset.public_id} is restricted and your organisation's access request "
            f"{request['id']} was rejected"
            + (f": {request['reason']}" if request["reason"] else ".")
            + f" You can ask again with {where}."
        )
    return Forbidden(message, code="access_not_approved")


def download_access(
    *, dataset: Dataset, organization: Organization, kind: str, facts: AccessFacts
) -> tuple[str, int | None]:
    """Why the organisation may download (basis, grant id), or the error saying why not,
    checked in the order a buyer resolves them: visibility (private 403, restricted without an
    approved access request 403; samples need no approval, as MDC E6 documents), the current
    terms accepted (403), then for the full archive of a paid dataset an active grant (402).
    The publishing organisation may always download. No query: `download_context` read it all."""
    if organization.pk == dataset.organization_id:
        return Basis.OWNER, None
    private_check(dataset=dataset, organization=organization)
    terms = dataset_terms(dataset)
    if dataset.visibility == Visibility.RESTRICTED and kind == Kind.DATASET:
        request = facts.access_request
        if request is None or request["status"] != AccessRequest.Status.APPROVED:
            raise _restricted_error(dataset=dataset, request=request)
    if terms.hash not in facts.accepted_hashes:
        raise Forbidden(
            f"Your organisation has not accepted the current terms of dataset "
            f"{dataset.public_id}. Read them (GET /api/datasets/{dataset.public_id}/terms) and "
            f'accept them (POST the same path with {{"termsHash": "{terms.hash}"}}), or on '
            f"{terms_page_url(dataset)}.",
            code="terms_not_accepted",
            termsHash=terms.hash,
            termsUrl=terms_page_url(dataset),
        )
    if kind == Kind.SAMPLE:
        return Basis.SAMPLE, None
    if dataset.is_paid:
        if facts.grant_id is None:
            pricing = pricing_object(
                is_paid=True, base_price_cents=dataset.base_price_cents, currency=dataset.currency
            )
            total = pricing["totalPriceCents"]
            raise PaymentRequired(
                f"Dataset {dataset.public_id} is paid ({total / 100:.2f} "
                f"{(pricing['currency'] or 'usd').upper()}) and your organisation has no active "
                "grant for it. Buy it first; every key of your organisation can then download it.",
                pricing=pricing,
            )
        return Basis.GRANT, facts.grant_id
    return Basis.FREE, None


def grant_dispute_check(*, dataset: Dataset, facts: AccessFacts) -> None:
    """A grant whose order's payment is disputed at Stripe is suspended (not revoked): 409
    naming the dispute until it is won (the grant is in force again) or lost (revoked)."""
    dispute = facts.grant_dispute
    if dispute is not None and dispute["grant"] == facts.grant_id:
        raise Conflict(
            f"Your organisation's grant for dataset {dataset.public_id} is suspended: the "
            f"payment of order {dispute['order']} is disputed ({dispute['dispute']}, reason: "
            f"{dispute['reason'] or 'none'}). Downloads resume if the dispute is decided in "
            "the seller's favour.",
            code="grant_suspended_dispute",
            orderId=dispute["order"],
            disputeId=dispute["dispute"],
        )


# Presigned URLs of this process, reused for a few seconds: signing costs more CPU than the rest
# of a download session's own work, and a URL signed seconds ago is as good (its expiry is
# reported from its own signing time).
_signed: dict[tuple, tuple[str, float, datetime]] = {}
_SIGNED_MAX = 1024


def presigned_url(
    *, object_key: str, filename: str, ttl: int, organization_id: int
) -> tuple[str, datetime]:
    """A presigned GET URL and when it expires. Reused within this process for up to
    DOWNLOAD_URL_REUSE_SECONDS (default 30, never more than a tenth of the TTL; 0 disables),
    and only for the same organisation: a URL is a bearer credential, so one handed to an
    organisation is never handed to another (each gets its own, its own expiry)."""
    reuse = min(float(settings.DOWNLOAD_URL_REUSE_SECONDS), ttl / 10)
    cache_key = (
        organization_id,
        object_key,
        filename,
        ttl,
        settings.AWS_S3_ENDPOINT_URL,
        settings.AWS_STORAGE_BUCKET_NAME,
    )
    now = time.monotonic()
    hit = _signed.get(cache_key)
    if hit is not None and now - hit[1] <= reuse:
        return hit[0], hit[2]
    signed_at = timezone.now()
    url = presign_download(key=object_key, filename=filename, ttl=ttl)
    expires_at = signed_at + timedelta(seconds=ttl)
    if reuse > 0:
        if len(_signed) >= _SIGNED_MAX:
            _signed.clear()
        _signed[cache_key] = (url, now, expires_at)
    return url, expires_at


_SESSION_COLUMNS = [
    f.attname
    for f in DownloadSession._meta.concrete_fields
    if f.attname not in ("id", "created_at")
]
# One statement, no ORM compilation: this runs on every download session (the hot path of
# the grant-check benchmark).
_SESSION_INSERT = (
    f"INSERT INTO {DownloadSession._meta.db_table} ({', '.join(_SESSION_COLUMNS)}, created_at) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * len(_SESSION_COLUMNS))}, now()) RETURNING id, created_at"
)
# The same statement committed without waiting for the WAL flush: `set_config(...,
# is_local => true)` is `SET LOCAL synchronous_commit = off` inside the statement, so it costs
# no round trip and ends with the statement's own transaction. A session row is analytics (who
# fetched which URL when), not money and not access: the download is decided and the URL
# signed before it is written. A crash of PostgreSQL itself (not of this process) may lose the
# last few hundred milliseconds of rows; the database stays consistent (no torn writes), as
# PostgreSQL's asynchronous commit guarantees.
_SESSION_INSERT_ASYNC = f"{_SESSION_INSERT}, set_config('synchronous_commit', 'off', true)"


def _session_insert(session: DownloadSession) -> None:
    # Only when the INSERT is its own transaction (autocommit): inside a caller's transaction
    # the setting would apply to the whole of it, whatever else it writes.
    sql = _SESSION_INSERT_ASYNC if connection.get_autocommit() else _SESSION_INSERT
    with prepared_cursor() as cursor:
        cursor.execute(sql, [getattr(session, c) for c in _SESSION_COLUMNS])
        session.pk, session.created_at = cursor.fetchone()[:2]
    session._state.adding = False


@dataclass(frozen=True)
class DownloadOffer:
    session: DownloadSession
    url: str
    size_bytes: int
    filename: str
    checksum: str | None


def download_session_start(
    *,
    actor: Actor,
    id_or_slug: str,
    kind: str,
    user_agent: str,
    ip: str | None,
    version_number: int | None = None,
) -> DownloadOffer:
    """E4 (kind dataset) / E6 (kind sample): check access, presign, record the session. The
    latest version unless `version_number` names an earlier one (the library's per-version
    buttons; the same access rules: a grant covers every version of its dataset)."""
    organization = actor.organization
    dataset, facts = download_context(id_or_slug=id_or_slug, organization=organization)
    version = dataset.latest_version
    if version_number is not None and version_number != version.number:
        version = DatasetVersion.objects.filter(dataset=dataset, number=version_number).first()
        if version is None or kind != Kind.DATASET:
            raise NotFound(
                f"Dataset {dataset.public_id} has no version {version_number}.",
                code="no_such_version",
            )
    # Whether a private dataset has a sample is its organisation's business.
    private_check(dataset=dataset, organization=organization)
    # A takedown of one version: an earlier version named explicitly may be gone (a removed
    # latest version is never the dataset's latest_version any more).
    if version.pk != dataset.latest_version_id and version_removal(version=version) is not None:
        raise Gone(
            f"Version {version.number} of dataset {dataset.public_id} was removed from the "
            "platform.",
            code="version_removed",
        )
    if kind == Kind.SAMPLE and not (
        version.sample_key and version.sample_filename and version.sample_size_bytes
    ):
        raise NotFound(f"Dataset {dataset.public_id} has no sample.", code="no_sample")
    basis, grant_id = download_access(
        dataset=dataset, organization=organization, kind=kind, facts=facts
    )
    ttl = int(settings.PRESIGNED_DOWNLOAD_TTL_SECONDS)
    if kind == Kind.SAMPLE:
        object_key, filename = version.sample_key, version.sample_filename
        size, checksum = version.sample_size_bytes, None
    else:
        object_key, filename = version.archive_key, version.filename
        size, checksum = version.size_bytes, version.sha256
    if basis == Basis.GRANT:
        grant_dispute_check(dataset=dataset, facts=facts)
    url, expires_at = presigned_url(
        object_key=object_key, filename=filename, ttl=ttl, organization_id=organization.pk
    )
    session = DownloadSession(
        public_id=new_download_id(),
        dataset_id=dataset.pk,
        version_id=version.pk,
        organization_id=organization.pk,
        user_id=actor.user.pk,
        api_key_id=actor.api_key.pk if actor.api_key else None,
        grant_id=grant_id,
        kind=kind,
        basis=basis,
        user_agent=user_agent[:500],
        source_function=source_function(user_agent),
        ip=ip,
        expires_at=expires_at,
    )
    _session_insert(session)
    return DownloadOffer(
        session=session, url=url, size_bytes=int(size), filename=filename, checksum=checksum
    )
