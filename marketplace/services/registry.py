"""The schema registry of `load_dataset`: the loading schema of each published dataset, generated
from the ingestion facts of its latest version (and the first lines of its index file, read from
storage) or written by its provider, and a preview of the rows it loads.

Reads of storage happen with no transaction open; the row is then written in a short one that
locks the dataset (so two first requests generate it once)."""

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from django.db import transaction

from marketplace.actors import Actor
from marketplace.ingestion.gzstream import ArchiveStream, SourceReader, Stop
from marketplace.ingestion.limits import Limits
from marketplace.ingestion.report import InputStreamError
from marketplace.ingestion.tarstream import FILE, TarReader
from marketplace.models import CheckRun, Dataset, DatasetVersion, RegistrySchema, Visibility
from marketplace.registry_preview import Preview, index_paths, schema_preview
from marketplace.schema_registry import Table, schema_dump, schema_generate, schema_parse
from marketplace.services.audit import audit_record
from marketplace.services.errors import NotFound, ServiceError
from marketplace.storage import bucket, s3_client

HEAD_BYTES = 64 * 1024
"""Of each index member, the first bytes read (whole lines kept): enough for a preview."""
SCAN_LIMIT_BYTES = 512 * 1024 * 1024
"""Decompressed bytes read at most looking for the index members (they usually come first)."""
MAX_TABLES = 20

S = RegistrySchema.Source


class StorageUnavailable(ServiceError):
    status_code = 503
    code = "storage_unavailable"


@dataclass(frozen=True)
class ArchiveFacts:
    members: set[str]
    tables: list[dict]  # [{"path", "kind", "columns": [{"name", "type"}]}]


def archive_facts(version: DatasetVersion) -> ArchiveFacts:
    """What the ingestion checks of the version's archive recorded: every member path and the
    delimited members with their columns."""
    run = (
        CheckRun.objects.filter(upload__key=version.archive_key)
        .only("manifest", "croissant_facts")
        .first()
    )
    manifest = run.manifest if run else []
    members = {row[0] for row in manifest}
    facts = (run.croissant_facts if run else {}) or {}
    tables = [t for t in facts.get("tables", []) if t.get("kind") in ("tsv", "csv")]
    if not tables:  # older runs: the statistics name the columns of each member
        columns = (version.statistics or {}).get("columns", {})
        tables = [
            {
                "path": p,
                "kind": "tsv" if p.lower().endswith((".tsv", ".tab")) else "csv",
                "columns": c,
            }
            for p, c in columns.items()
            if p.lower().endswith((".tsv", ".tab", ".csv"))
        ]
    return ArchiveFacts(
        members=members, tables=sorted(tables, key=lambda t: t["path"])[:MAX_TABLES]
    )


def archive_heads(key: str, paths: set[str]) -> dict[str, str]:
    """The first whole lines (up to HEAD_BYTES) of each member in `paths`, read through the
    ingestion stream readers from the stored archive; stops as soon as all are read, after
    SCAN_LIMIT_BYTES of decompressed data, or at a structural problem (then returns what it has:
    the archive passed its checks when it was published)."""
    heads: dict[str, str] = {}
    if not paths:
        return heads
    try:
        body = s3_client(read_timeout=60).get_object(Bucket=bucket(), Key=key)["Body"]
    except (BotoCoreError, ClientError) as exc:
        raise StorageUnavailable("The dataset archive cannot be read right now.") from exc
    limits = Limits(decompress_in_thread=False, max_total_uncompressed=SCAN_LIMIT_BYTES)
    archive = None
    try:
        archive = ArchiveStream(SourceReader(body), limits)
        tar = TarReader(
            archive,
            max_meta_bytes=limits.max_meta_header_bytes,
            max_name_bytes=limits.max_member_name_bytes,
        )
        for entry in tar.entries():
            if entry.type != FILE or entry.path not in paths:
                continue
            data = b""
            while len(data) < min(HEAD_BYTES, entry.size):
                part = tar.read(HEAD_BYTES - len(data))
                if not part:
                    break
                data += part
            if len(data) < entry.size:  # cut: keep whole lines only
                data = data[: data.rfind(b"\n") + 1]
            heads[entry.path] = data.decode("utf-8", errors="replace")
            if len(heads) == len(paths):
                break
    except Stop:
        pass
    except (InputStreamError, BotoCoreError) as exc:
        raise StorageUnavailable("The dataset archive cannot be read right now.") from exc
    finally:
        if archive is not None:
            archive.close()
        body.close()
    return heads


def _generated(dataset: Dataset, version: DatasetVersion) -> tuple[str, str]:
    facts = archive_facts(version)
    heads = archive_heads(version.archive_key, {t["path"] for t in facts.tables})
    tables = [
        Table(path=t["path"], kind=t["kind"], columns=t["columns"], head=heads[t["path"]])
        for t in facts.tables
        if t["path"] in heads
    ]
    schema, why = schema_generate(
        dataset_id=dataset.public_id, task=dataset.task, tables=tables, members=facts.members
    )
    return (schema_dump(schema), "") if schema else ("", why)


def registry_schema_ensure(*, dataset: Dataset) -> RegistrySchema | None:
    """The dataset's loading schema: the provider's, or one generated for its latest version
    (generated again when a new version is published). None for an unpublished dataset."""
    version = dataset.latest_version
    if version is None:
        return None
    current = RegistrySchema.objects.filter(dataset=dataset).first()
    if current is not None and (current.source == S.PROVIDER or current.version_id == version.pk):
        return current
    text, note = _generated(dataset, version)
    with transaction.atomic():
        Dataset.objects.select_for_update().only("pk").get(pk=dataset.pk)
        current = RegistrySchema.objects.filter(dataset=dataset).first()
        if current is not None and (
            current.source == S.PROVIDER or current.version_id == version.pk
        ):
            return current  # another request got here first
        row, _ = RegistrySchema.objects.update_or_create(
            dataset=dataset,
            defaults={
                "version": version,
                "source": S.GENERATED,
                "yaml": text,
                "note": note[:500],
                "updated_by": None,
            },
        )
    return row


def registry_schema_public(*, dataset_id: str) -> str:
    """The schema.yaml the registry serves for a listed dataset; NotFound when there is none (an
    unknown, private, removed or unpublished dataset, or one no schema could be made for)."""
    dataset = (
        Dataset.objects.select_related("latest_version")
        .defer("search_vector")
        .filter(
            public_id=dataset_id,
            removed_at__isnull=True,
            latest_version__isnull=False,
            visibility__in=[Visibility.PUBLIC, Visibility.RESTRICTED],
        )
        .first()
    )
    row = registry_schema_ensure(dataset=dataset) if dataset else None
    if row is None or not row.yaml:
        raise NotFound(f"No loading schema for dataset {dataset_id}.")
    return row.yaml


def _own(actor: Actor, dataset: Dataset) -> Dataset:
    if dataset.organization_id != actor.organization.pk or dataset.latest_version_id is None:
        raise NotFound(f"Dataset {dataset.public_id} not found.")
    return dataset


def registry_schema_update(*, actor: Actor, dataset: Dataset, text: str) -> RegistrySchema:
    """Save the provider's schema for their published dataset: any member of the publishing
    organisation may, as they may change its access settings. It must parse as a loading schema
    of this dataset (SchemaInvalid otherwise, nothing saved); it is served as written, and no
    longer generated again when a new version is published."""
    dataset = _own(actor, dataset)
    schema_parse(text, dataset_id=dataset.public_id)
    with transaction.atomic():
        Dataset.objects.select_for_update().only("pk").get(pk=dataset.pk)
        row, _ = RegistrySchema.objects.update_or_create(
            dataset=dataset,
            defaults={
                "version_id": dataset.latest_version_id,
                "source": S.PROVIDER,
                "yaml": text if text.endswith("\n") else text + "\n",
                "note": "",
                "updated_by": actor.user,
            },
        )
        audit_record(
            actor=actor,
            organization=actor.organization,
            action="dataset.registry_schema_update",
            obj=dataset,
            data={"version": dataset.latest_version.number},
        )
    return row


def registry_schema_reset(*, actor: Actor, dataset: Dataset) -> RegistrySchema | None:
    """Drop the provider's schema: the generated one is served again."""
    dataset = _own(actor, dataset)
    with transaction.atomic():
        Dataset.objects.select_for_update().only("pk").get(pk=dataset.pk)
        deleted, _ = RegistrySchema.objects.filter(dataset=dataset).delete()
        if deleted:
            audit_record(
                actor=actor,
                organization=actor.organization,
                action="dataset.registry_schema_reset",
                obj=dataset,
                data={},
            )
    return registry_schema_ensure(dataset=dataset)


def registry_schema_preview(*, dataset: Dataset, schema: dict) -> Preview:
    """The first rows `load_dataset` would give with `schema` (already parsed), read from the
    latest version's archive."""
    version = dataset.latest_version
    facts = archive_facts(version)
    paths = index_paths(schema, facts.members)[:1]
    heads = archive_heads(version.archive_key, set(paths))
    return schema_preview(schema, heads, facts.members)
