"""The provider's loading-schema editor (Django test client): the generated schema and a preview
of its first rows read from the archive; a schema that breaks the SDK's format comes back with
each problem under the field and the text as typed, nothing saved; "Preview" saves nothing;
"Save" serves it from the registry; "Use the generated schema" undoes it; another organisation's
dataset is 404."""

import html
import re

import pytest
import yaml
from django.test import Client

from marketplace.demo_data import demo_archive
from marketplace.models import RegistrySchema
from tests.licensing.conftest import publish

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture
def dataset(provider):
    return publish(provider, "Demo Welsh", data=demo_archive("demo-welsh", 6), task="ASR")


def page_url(dataset) -> str:
    return f"/organization/datasets/{dataset.public_id}/schema"


def registry(dataset) -> str:
    return Client().get(f"/schema-registry/main/registry/{dataset.public_id}/schema.yaml")


def test_shows_the_generated_schema_and_its_preview(provider, dataset):
    client = browser(provider.user)
    detail = client.get(f"/organization/datasets/{dataset.public_id}").content.decode()
    assert page_url(dataset) in detail
    response = client.get(page_url(dataset))
    assert response.status_code == 200
    page = response.content.decode()
    words = text(page)
    assert "Generated from the automatic checks of version 1" in words
    assert "index_file: demo-welsh/clips.tsv" in html.unescape(page)
    assert "The first rows of demo-welsh/clips.tsv" in words
    assert "demo-welsh/clips/demo-welsh-003.wav Demo sentence number 3. 0.8" in words
    assert 'SCHEMA_REGISTRY_RAW_BASE_URL = "http://testserver/schema-registry"' in html.unescape(
        page
    )


def test_invalid_schema_is_refused_with_the_reasons_and_kept_as_typed(provider, dataset):
    client = browser(provider.user)
    typed = f"dataset_id: {dataset.public_id}\nroot_strategy: index\nindex_fle: clips.tsv\n"
    response = client.post(page_url(dataset), {"schema": typed, "action": "save"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Unknown key 'index_fle' (did you mean 'index_file'?)." in text(page)
    assert "The 'index' strategy needs 'index_file'." in text(page)
    assert 'aria-invalid="true"' in page
    assert html.escape(typed) in page or typed in html.unescape(page)
    assert RegistrySchema.objects.get(dataset=dataset).source == "generated"
    assert "demo-welsh/clips.tsv" in registry(dataset).content.decode()


def test_preview_saves_nothing_and_save_serves_the_schema(provider, dataset):
    client = browser(provider.user)
    mine = (
        f"dataset_id: {dataset.public_id}\ntask: ASR\nroot_strategy: index\n"
        "index_file: clips.tsv\ncolumns:\n"
        "  audio_path: {source_column: path, dtype: file_path}\n"
        "  transcription: {source_column: sentence}\n"
        "  seconds: {source_column: duration_s, dtype: float}\n"
    )
    response = client.post(page_url(dataset), {"schema": mine, "action": "preview"})
    assert response.status_code == 200
    words = text(response.content.decode())
    assert "audio_path transcription seconds" in words
    # The index file is found by name as the SDK does; clip paths resolve beside it.
    assert "demo-welsh/clips/demo-welsh-000.wav Demo sentence number 0. 0.5" in words
    assert "not in the archive" not in words
    assert RegistrySchema.objects.get(dataset=dataset).source == "generated"

    response = client.post(page_url(dataset), {"schema": mine, "action": "save"})
    assert response.status_code == 302
    assert registry(dataset).content.decode() == mine
    page = client.get(page_url(dataset)).content.decode()
    assert "Your schema" in text(page)

    client.post(page_url(dataset), {"action": "generate"})
    assert yaml.safe_load(registry(dataset).content)["index_file"] == "demo-welsh/clips.tsv"


def test_preview_shows_what_would_not_load(provider, dataset):
    client = browser(provider.user)
    broken = (
        f"dataset_id: {dataset.public_id}\nroot_strategy: index\nindex_file: demo-welsh/clips.tsv\n"
        "columns:\n  audio_path: {source_column: file, dtype: file_path}\n"
        "  seconds: {source_column: duration_s, dtype: int}\n"
    )
    response = client.post(page_url(dataset), {"schema": broken, "action": "preview"})
    words = text(response.content.decode())
    assert "required source column 'file' is not in demo-welsh/clips.tsv" in words
    # The SDK casts an int column to Int64, which a value of 0.5 does not fit.
    assert "Column 'seconds': some values do not resolve as its dtype says (e.g. '0.5')" in words


def test_another_organisations_dataset_is_404(outsider, dataset):
    client = browser(outsider.user)
    assert client.get(page_url(dataset)).status_code == 404
    assert client.post(page_url(dataset), {"action": "generate"}).status_code == 404
