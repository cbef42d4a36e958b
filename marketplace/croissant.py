"""Croissant 1.0 metadata (JSON-LD) of a published dataset version, with the Responsible-AI
vocabulary filled from the datasheet. Built from the facts the ingestion checks recorded: the
archive (a FileObject with its verified SHA-256), its members grouped by type (FileSets inside
the archive), and one RecordSet per tabular member with its columns."""

import re

from marketplace.models import CheckRun, Dataset, DatasetVersion, Submission

CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

DATA_TYPES = {"integer": "sc:Integer", "float": "sc:Float", "bool": "sc:Boolean", "text": "sc:Text"}
MIME_BY_KIND = {
    "tsv": "text/tab-separated-values",
    "csv": "text/csv",
    "jsonl": "application/jsonlines",
    "parquet": "application/x-parquet",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
}
LICENSE_URLS = {
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC-BY-NC-4.0": "https://creativecommons.org/licenses/by-nc/4.0/",
    "CC-BY-NC-SA-4.0": "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    "CC-BY-ND-4.0": "https://creativecommons.org/licenses/by-nd/4.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
}


def _ident(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120] or "x"


def croissant_document(*, dataset: Dataset, version: DatasetVersion) -> dict:
    submission: Submission = version.submission
    run = CheckRun.objects.filter(upload__key=version.archive_key).first()
    facts = run.croissant_facts if run else {}
    license_id = dataset.license_abbreviation
    archive_id = "archive"
    distribution: list[dict] = [
        {
            "@type": "cr:FileObject",
            "@id": archive_id,
            "name": version.filename,
            "description": "The dataset archive (gzip-compressed tar).",
            "contentUrl": version.filename,
            "contentSize": f"{version.size_bytes} B",
            "encodingFormat": "application/x-gzip",
            "sha256": version.sha256,
        }
    ]
    members = facts.get("members", [])
    kinds = sorted({m.get("kind") for m in members if m.get("kind") in MIME_BY_KIND})
    for kind in kinds:
        distribution.append(
            {
                "@type": "cr:FileSet",
                "@id": f"files-{kind}",
                "name": f"files-{kind}",
                "description": f"The {kind.upper()} files in the archive.",
                "containedIn": {"@id": archive_id},
                "encodingFormat": MIME_BY_KIND[kind],
                "includes": sorted(
                    {_glob_for(m["path"]) for m in members if m.get("kind") == kind}
                ),
            }
        )
    record_sets = []
    for table in facts.get("tables", []):
        if table.get("kind") not in ("tsv", "csv") or not table.get("columns"):
            continue
        file_id = f"table-{_ident(table['path'])}"
        distribution.append(
            {
                "@type": "cr:FileObject",
                "@id": file_id,
                "name": file_id,
                "contentUrl": table["path"],
                "containedIn": {"@id": archive_id},
                "encodingFormat": MIME_BY_KIND[table["kind"]],
                **({"sha256": table["sha256"]} if table.get("sha256") else {}),
            }
        )
        record_sets.append(
            {
                "@type": "cr:RecordSet",
                "@id": f"records-{_ident(table['path'])}",
                "name": f"records-{_ident(table['path'])}",
                "description": f"Rows of {table['path']}.",
                "field": [
                    {
                        "@type": "cr:Field",
                        "@id": f"records-{_ident(table['path'])}/{_ident(col['name'])}",
                        "name": f"records-{_ident(table['path'])}/{_ident(col['name'])}",
                        "dataType": DATA_TYPES.get(col.get("type"), "sc:Text"),
                        "source": {
                            "fileObject": {"@id": file_id},
                            "extract": {"column": col["name"]},
                        },
                    }
                    for col in table["columns"]
                ],
            }
        )
    document = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": dataset.name,
        "description": dataset.long_description or dataset.short_description or dataset.name,
        "url": f"/api/datasets/{dataset.public_id}",
        "version": f"{version.number}.0.0",
        "datePublished": version.published_at.date().isoformat(),
        "license": LICENSE_URLS.get(license_id) or dataset.license_url or license_id,
        "creator": {"@type": "sc:Organization", "name": dataset.organization.name},
        "inLanguage": dataset.locale or None,
        "keywords": [k for k in (dataset.task, dataset.format) if k],
        "distribution": distribution,
        "recordSet": record_sets,
        # Responsible-AI vocabulary, from the datasheet.
        "rai:dataCollection": submission.other or None,
        "rai:dataUseCases": submission.intended_usage or None,
        "rai:dataLimitations": submission.restrictions or None,
        "rai:dataSocialImpact": submission.forbidden_usage or None,
        "rai:dataReleaseMaintenancePlan": submission.additional_conditions or None,
        "rai:personalSensitiveInformation": facts.get("personal_data_summary"),
        "rai:annotationsPerItem": None,
        "rai:dataBiases": submission.ethical_review_process or None,
    }
    return {k: v for k, v in document.items() if v not in (None, [], "")}


def _glob_for(path: str) -> str:
    """`clips/a.wav` → `clips/*.wav`; a top-level file → `*.wav`."""
    folder, _, name = path.rpartition("/")
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    pattern = f"*.{ext}" if ext else name
    return f"{folder}/{pattern}" if folder else pattern
