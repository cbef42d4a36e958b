"""The schema registry of `load_dataset`: a schema generated from what ingestion learned (and
the head of the index file, read from storage), served publicly as YAML, 404 when there is none;
the provider's schema validated against the SDK's format; the preview of the rows it loads.
Generated schemas are also checked with the SDK's own parser and loaders."""

import gzip
import io
import tarfile

import pytest
import yaml
from datacollective.schema import _parse_schema
from datacollective.schema_loaders.registry import _load_dataset_from_schema

from marketplace.demo_data import demo_archive
from marketplace.models import AuditEvent, RegistrySchema, Submission
from marketplace.schema_registry import SchemaInvalid, schema_parse
from marketplace.services.errors import NotFound
from marketplace.services.registry import (
    registry_schema_ensure,
    registry_schema_preview,
    registry_schema_reset,
    registry_schema_update,
)
from marketplace.services.review import dataset_remove, submission_approve
from tests.catalogue_helpers import upload_bytes
from tests.licensing.conftest import publish

pytestmark = pytest.mark.django_db


def tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def url(dataset_id: str, prefix: str = "") -> str:
    return f"{prefix}/schema-registry/main/registry/{dataset_id}/schema.yaml"


def sdk_load(schema_text: str, archive: bytes, tmp_path):
    """What the SDK does after downloading: extract the archive, parse the schema, load."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(tmp_path, filter="data")
    return _load_dataset_from_schema(_parse_schema(schema_text), tmp_path)


def test_generated_from_the_demo_archive_and_served_as_yaml(client, provider, tmp_path):
    archive = demo_archive("demo-welsh", 6)
    dataset = publish(provider, "Demo Welsh", data=archive, task="ASR")
    response = client.get(url(dataset.public_id))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(response.content) == {
        "dataset_id": dataset.public_id,
        "task": "ASR",
        "root_strategy": "index",
        "index_file": "demo-welsh/clips.tsv",
        "format": "tsv",
        "has_header": True,
        "base_audio_path": "demo-welsh/",
        "columns": {
            "audio_path": {"source_column": "path", "dtype": "file_path"},
            "transcription": {"source_column": "sentence", "dtype": "string"},
            "duration_s": {"source_column": "duration_s", "dtype": "float"},
        },
    }
    # The same under the API prefix (MDC_API_URL + "/schema-registry").
    assert client.get(url(dataset.public_id, "/api")).content == response.content
    df = sdk_load(response.content.decode(), archive, tmp_path)
    assert list(df.columns) == ["audio_path", "transcription", "duration_s"] and len(df) == 6
    assert all((tmp_path / p).is_file() for p in df["audio_path"])
    # Generated once for the version: the row is served from then on.
    row = RegistrySchema.objects.get(dataset=dataset)
    assert row.source == "generated" and row.version_id == dataset.latest_version_id


def test_splits_headerless_and_paths_without_extension(client, provider, tmp_path):
    """train/dev/test files make a multi_split schema; values naming clips without their
    extension get file_extension; a CSV with no header maps columns by position."""
    from tests.catalogue_helpers import wav_bytes

    members = {}
    for split, n in (("train", 3), ("dev", 2), ("test", 2)):
        rows = "".join(f"{split}_{i},hello {split} {i},{i}\n" for i in range(n))
        members[f"corpus/{split}.csv"] = rows.encode()
        for i in range(n):
            members[f"corpus/{split}_{i}.wav"] = wav_bytes(2048)
    archive = tar_gz(members)
    dataset = publish(provider, "Split corpus", data=archive, task="ASR")
    text = client.get(url(dataset.public_id)).content.decode()
    schema = yaml.safe_load(text)
    assert schema["root_strategy"] == "multi_split"
    assert schema["splits"] == ["train", "dev", "test"]
    assert schema["has_header"] is False
    assert schema["columns"]["audio_path"] == {
        "source_column": 0,
        "dtype": "file_path",
        "file_extension": ".wav",
    }
    assert schema["columns"]["transcription"]["source_column"] == 1
    df = sdk_load(text, archive, tmp_path)
    assert len(df) == 7 and set(df["split"]) == {"train", "dev", "test"}
    assert all((tmp_path / p).is_file() for p in df["audio_path"])


def test_404_without_a_schema_and_for_datasets_not_listed(client, provider, reviewer):
    loose = publish(provider, "Loose notes", data=tar_gz({"notes.txt": b"hello\n" * 10}))
    private = publish(provider, "Private corpus", visibility="private")
    removed = publish(provider, "Removed corpus")
    dataset_remove(dataset=removed, actor=reviewer, reason="takedown")
    for dataset_id in (loose.public_id, private.public_id, removed.public_id, "dsunknown"):
        response = client.get(url(dataset_id))
        assert response.status_code == 404
        assert response.json()["error"] == "not_found" and response.json()["message"]
    # Nothing could be generated for the loose notes: remembered with the reason, not retried.
    assert RegistrySchema.objects.get(dataset=loose).note.startswith("The archive has no TSV")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("dataset_id: [", "Not valid YAML at line 1"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("root_strategy: index\nindex_file: a.tsv\n", "'dataset_id' is required"),
        ("dataset_id: ID\nroot_strategy: index\nindex_fle: a.tsv\n", "did you mean 'index_file'"),
        ("dataset_id: ID\nroot_strategy: index\n", "The 'index' strategy needs 'index_file'"),
        ("dataset_id: ID\nroot_strategy: zip\n", "Unknown root_strategy 'zip'"),
        ("dataset_id: other\nroot_strategy: glob\nfile_pattern: '*'\n", "this dataset's id"),
        (
            "dataset_id: ID\nroot_strategy: index\nindex_file: a.tsv\n"
            "columns:\n  x: {source_column: a, dtype: wav}\n",
            "'dtype' must be one of",
        ),
        (
            "dataset_id: ID\nroot_strategy: index\nindex_file: a.tsv\ncolumns:\n  x: {dtype: int}\n",
            "Column 'x': 'source_column' is required",
        ),
        ("dataset_id: ID\nroot_strategy: index\nindex_file: ../a.tsv\n", "inside the archive"),
        ("dataset_id: ID\nroot_strategy: index\nindex_file: a\nhas_header: 'no'\n", "true or"),
    ],
)
def test_schema_format_errors(text, error):
    with pytest.raises(SchemaInvalid) as invalid:
        schema_parse(text.replace("ID", "ds1"), dataset_id="ds1")
    assert any(error in e for e in invalid.value.errors), invalid.value.errors


def test_provider_schema_replaces_the_generated_one(client, provider, outsider, reviewer, tmp_path):
    archive = demo_archive("demo-welsh", 4)
    dataset = publish(provider, "Demo Welsh", data=archive, task="ASR")
    registry_schema_ensure(dataset=dataset)
    text = (
        f"dataset_id: {dataset.public_id}\ntask: ASR\nroot_strategy: index\n"
        "index_file: clips.tsv\nbase_audio_path: ''\ncolumns:\n"
        "  audio_path: {source_column: path, dtype: file_path}\n"
        "  transcription: {source_column: sentence}\n"
    )
    with pytest.raises(NotFound):
        registry_schema_update(actor=outsider.actor, dataset=dataset, text=text)
    with pytest.raises(SchemaInvalid):
        registry_schema_update(actor=provider.actor, dataset=dataset, text=text + "colums: {}\n")
    assert RegistrySchema.objects.get(dataset=dataset).source == "generated"

    registry_schema_update(actor=provider.actor, dataset=dataset, text=text)
    assert client.get(url(dataset.public_id)).content.decode() == text
    assert AuditEvent.objects.filter(action="dataset.registry_schema_update").count() == 1
    df = sdk_load(text, archive, tmp_path)
    assert list(df.columns) == ["audio_path", "transcription"] and len(df) == 4

    # A new version keeps the provider's schema; reset brings the generated one back.
    submission = Submission.objects.get(dataset=dataset)
    upload_bytes(provider.client, submission.public_id, demo_archive("demo-welsh-two", 5))
    submission.refresh_from_db()
    submission_approve(submission=submission, actor=reviewer)
    assert client.get(url(dataset.public_id)).content.decode() == text
    registry_schema_reset(actor=provider.actor, dataset=dataset)
    regenerated = yaml.safe_load(client.get(url(dataset.public_id)).content)
    assert regenerated["index_file"] == "demo-welsh-two/clips.tsv"


def test_preview_reads_the_first_rows_as_the_sdk_would(provider):
    dataset = publish(provider, "Demo Welsh", data=demo_archive("demo-welsh", 6), task="ASR")
    schema = yaml.safe_load(registry_schema_ensure(dataset=dataset).yaml)
    preview = registry_schema_preview(dataset=dataset, schema=schema)
    assert preview.source == "demo-welsh/clips.tsv" and not preview.problems
    assert preview.columns == ["audio_path", "transcription", "duration_s"]
    assert preview.rows[0] == [
        "demo-welsh/clips/demo-welsh-000.wav",
        "Demo sentence number 0.",
        "0.5",
    ]
    assert len(preview.rows) == 6

    schema["base_audio_path"] = "elsewhere/"
    schema["columns"]["transcription"]["source_column"] = "sentense"
    preview = registry_schema_preview(dataset=dataset, schema=schema)
    assert any("'sentense' is not in demo-welsh/clips.tsv" in p for p in preview.problems)
    assert any("Column 'audio_path'" in p for p in preview.problems)
    assert preview.rows[0][0].endswith("(not in the archive)")


def test_the_demo_datasets_have_a_schema(client, provider, reviewer):
    from marketplace.demo_data import DEMO_DATASETS, demo_datasets_ensure

    ids = demo_datasets_ensure(provider=provider.actor, reviewer=reviewer)
    assert RegistrySchema.objects.filter(dataset__public_id__in=ids.values()).count() == 3
    for spec in DEMO_DATASETS:
        row = RegistrySchema.objects.get(dataset__public_id=ids[spec["env"]])
        schema = yaml.safe_load(row.yaml)
        assert schema["index_file"] == f"{spec['slug']}/clips.tsv"
        assert list(schema["columns"]) == ["audio_path", "transcription", "duration_s"]
    public = ids["DEMO_FREE_DATASET_ID"]
    assert client.get(url(public)).status_code == 200
