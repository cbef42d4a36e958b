"""The licensee's compliance pack: from an organisation's grants, the section of the EU AI Act
Art. 53(1)(d) public summary of training content on licensed non-public data, following the
European Commission's (AI Office) template of July 2025, one entry per licensed dataset.

A read, built only from what the platform recorded: the dataset's datasheet, the statistics the
ingestion checks computed for the version (never re-counted here), the grants with their terms
hash and certificates. Only grants in force when the pack is generated are summarised; revoked
and expired grants are listed apart (`excludedGrants`) so the model provider can tell whether
content obtained under them went into a model trained before the revocation or expiry. The
shape is `licensing/schemas/training_data_summary.schema.json`. Four queries whatever the
number of grants."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from django.conf import settings
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from contributors.models import ConsentWithdrawal
from licensing.models import Certificate, Grant, TermsDocument
from marketplace.ingestion.sniff import AUDIO_KINDS, IMAGE_KINDS, TEXT_KINDS
from marketplace.models import Organization, Task

TEMPLATE = "EU AI Office template for the public summary of training content, July 2025"
TEMPLATE_SECTION = (
    "2.2 Private non-publicly available datasets obtained from third parties: 2.2.1 datasets "
    "commercially licensed by rightsholders or their representatives"
)
SCHEMA_PATH = Path(__file__).parent / "schemas" / "training_data_summary.schema.json"
SCHEMA_ID = "https://datacollective.example/schemas/training_data_summary.schema.json"

TIME_SPAN_MISSING = (
    "The datasheet has no field for when the content was created or collected; ask the "
    "provider organisation."
)
WITHDRAWALS_NONE = "No contributor has withdrawn consent for this dataset."


def _withdrawals_note(handled: int, last, open_: int) -> str:
    """How the dataset's consent withdrawals stand (issue 13 §2), never naming who withdrew: a
    withdrawal is handled when a version without the withdrawn members was published."""
    if not handled and not open_:
        return WITHDRAWALS_NONE
    parts = []
    if handled:
        parts.append(
            f"{handled} contributor consent withdrawal(s) handled (a version without the "
            f"withdrawn members was published), the last on {last.date().isoformat()}"
        )
    if open_:
        parts.append(
            f"{open_} withdrawal(s) open: a version without the withdrawn members is due, and "
            "grant holders received signed deletion manifests naming the members to delete"
        )
    return "; ".join(parts) + "."


EXCLUSION_NOTE = (
    "Only grants in force now are summarised. Revoked and expired grants are listed under "
    "excludedGrants and not summarised: no content may be obtained under them any more, but a "
    "model trained while they were in force may still contain it."
)

# Datasheet task → the template's modality (text, image, audio, video, other).
TASK_MODALITY = {
    Task.ASR: "audio",
    Task.TTS: "audio",
    Task.LID: "audio",
    Task.CV: "image",
    **{t: "text" for t in (Task.NLP, Task.MT, Task.LM, Task.LLM, Task.NLU, Task.NLG, Task.RAG)},
}


@cache
def training_data_summary_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def _modalities(dataset, statistics: dict) -> list[str]:
    """From the file types the ingestion checks read, else the datasheet's task."""
    found = set()
    for kind in statistics.get("files_by_type", {}):
        if kind in AUDIO_KINDS:
            found.add("audio")
        elif kind in IMAGE_KINDS:
            found.add("image")
        elif kind in TEXT_KINDS or kind == "parquet":
            found.add("text")
    if dataset.task in TASK_MODALITY:
        found.add(TASK_MODALITY[dataset.task])
    return sorted(found) or ["other"]


def _size(version) -> dict:
    statistics = (version.statistics or {}) if version else {}
    return {
        "bytes": version.size_bytes if version else 0,
        "files": sum(statistics.get("files_by_type", {}).values()),
        "rows": statistics.get("total_rows"),
        "audioHours": statistics.get("audio_hours"),
        "audioSeconds": statistics.get("audio_seconds"),
        "bytesByType": statistics.get("bytes_by_type", {}),
    }


def _datasheet_statements(submission) -> dict:
    """What the datasheet states about consent, personal data and collection, verbatim."""
    if submission is None:
        return {"containsPersonalData": None, "statements": []}
    fields = [
        ("dataCollection", submission.other),
        ("ethicalReviewProcess", submission.ethical_review_process),
        ("intendedUsage", submission.intended_usage),
        ("restrictions", submission.restrictions),
        ("forbiddenUsage", submission.forbidden_usage),
    ]
    return {
        "containsPersonalData": submission.contains_personal_data,
        "statements": [{"field": name, "text": text} for name, text in fields if text],
    }


def _grant_wire(grant: Grant, licenses: dict, certificates: dict) -> dict:
    return {
        "grantId": grant.public_id,
        "source": grant.source,
        "grantedAt": grant.created_at.isoformat(),
        "expiresAt": grant.expires_at.isoformat() if grant.expires_at else None,
        "licenseId": licenses.get((grant.dataset_id, grant.terms_hash))
        or grant.dataset.license_abbreviation
        or None,
        "termsHash": grant.terms_hash,
        "certificateIds": certificates.get(grant.pk, []),
    }


def _dataset_entry(dataset, grants: list[dict], withdrawals: tuple) -> dict:
    version = dataset.latest_version
    statistics = (version.statistics or {}) if version else {}
    base = settings.PUBLIC_BASE_URL
    return {
        "datasetId": dataset.public_id,
        "name": dataset.name,
        "url": f"{base}/datasets/{dataset.slug}",
        "provider": {
            "slug": dataset.organization.slug,
            "name": dataset.organization.name,
        },
        "version": version.number if version else None,
        "versionSha256": version.sha256 if version else None,
        "modalities": _modalities(dataset, statistics),
        "task": dataset.task or None,
        "format": dataset.format or None,
        "size": _size(version),
        "languages": [dataset.locale] if dataset.locale else [],
        "timeSpan": None,
        "timeSpanReason": TIME_SPAN_MISSING,
        "licenseIds": sorted({g["licenseId"] for g in grants if g["licenseId"]}),
        "termsHashes": sorted({g["termsHash"] for g in grants}),
        "certificateIds": [c for g in grants for c in g["certificateIds"]],
        "grants": grants,
        "consent": _datasheet_statements(version.submission if version else None),
        "withdrawalsHandled": withdrawals[0],
        "withdrawalsNote": _withdrawals_note(*withdrawals),
        "croissant": {
            "url": f"{base}/api/datasets/{dataset.public_id}/croissant",
            "raiFields": "The rai:* properties of the Croissant document (dataCollection, "
            "dataUseCases, dataLimitations, dataSocialImpact, dataReleaseMaintenancePlan, "
            "personalSensitiveInformation, dataBiases).",
        },
    }


def _withdrawal_annotations() -> dict:
    """The dataset's withdrawals counted in the grants' own query (no query per dataset)."""
    handled = ConsentWithdrawal.objects.filter(
        dataset=OuterRef("dataset_id"), status=ConsentWithdrawal.Status.FULFILLED
    )
    opened = ConsentWithdrawal.objects.filter(
        dataset=OuterRef("dataset_id"), status=ConsentWithdrawal.Status.OPEN
    )
    count = Count("pk")
    return {
        "withdrawals_handled": Coalesce(
            Subquery(handled.order_by().values("dataset").annotate(n=count).values("n")), 0
        ),
        "withdrawals_last": Subquery(handled.order_by("-fulfilled_at").values("fulfilled_at")[:1]),
        "withdrawals_open": Coalesce(
            Subquery(opened.order_by().values("dataset").annotate(n=count).values("n")), 0
        ),
    }


def training_data_summary(*, organization: Organization, now=None) -> dict:
    """The organisation's training-data summary: one entry per dataset it holds a grant in
    force for (several grants of one dataset are one entry listing each); grants revoked or
    expired at `now` are only listed in `excludedGrants`. Another organisation's grants never
    appear."""
    now = now or timezone.now()
    grants = list(
        Grant.objects.filter(organization=organization)
        .select_related(
            "dataset__organization",
            "dataset__latest_version__submission",
        )
        .annotate(**_withdrawal_annotations())
        .order_by("dataset_id", "created_at", "pk")
    )
    certificates: dict[int, list[str]] = {}
    licenses: dict[tuple[int, str], str] = {}
    if grants:
        for grant_id, certificate_id in (
            Certificate.objects.filter(grant__in=grants)
            .order_by("issued_at", "pk")
            .values_list("grant_id", "public_id")
        ):
            certificates.setdefault(grant_id, []).append(certificate_id)
        for dataset_id, terms_hash, identifier in TermsDocument.objects.filter(
            dataset_id__in={g.dataset_id for g in grants},
            terms_hash__in={g.terms_hash for g in grants},
        ).values_list("dataset_id", "terms_hash", "license_identifier"):
            if identifier:
                licenses[(dataset_id, terms_hash)] = identifier
    in_force: dict[int, list[Grant]] = {}
    excluded = []
    for grant in grants:
        status = grant.effective_status(now)
        if status == Grant.Status.ACTIVE:
            in_force.setdefault(grant.dataset_id, []).append(grant)
            continue
        excluded.append(
            {
                "grantId": grant.public_id,
                "datasetId": grant.dataset.public_id,
                "datasetName": grant.dataset.name,
                "status": status,
                "revokedAt": grant.revoked_at.isoformat() if grant.revoked_at else None,
                "expiresAt": grant.expires_at.isoformat() if grant.expires_at else None,
            }
        )
    datasets = [
        _dataset_entry(
            rows[0].dataset,
            [_grant_wire(g, licenses, certificates) for g in rows],
            (rows[0].withdrawals_handled, rows[0].withdrawals_last, rows[0].withdrawals_open),
        )
        for rows in in_force.values()
    ]
    datasets.sort(key=lambda d: (d["name"].lower(), d["datasetId"]))
    return {
        "$schema": SCHEMA_ID,
        "template": TEMPLATE,
        "section": TEMPLATE_SECTION,
        "generatedAt": now.isoformat(),
        "organization": {"slug": organization.slug, "name": organization.name},
        "grantPolicy": EXCLUSION_NOTE,
        "datasets": datasets,
        "totals": {
            "datasets": len(datasets),
            "bytes": sum(d["size"]["bytes"] for d in datasets),
            "rows": sum(d["size"]["rows"] or 0 for d in datasets),
            "audioHours": round(sum(d["size"]["audioHours"] or 0 for d in datasets), 4),
        },
        "excludedGrants": excluded,
    }
