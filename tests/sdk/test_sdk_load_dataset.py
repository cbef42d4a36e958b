"""The unmodified official SDK's `load_dataset` against our live server, with its schema
registry pointed at ours (the one line the README gives buyers): the demo ASR archive (a TSV
index with clip paths and sentences, and WAV clips) loads as a DataFrame with the SDK's ASR
columns, for a free dataset after accepting its terms and for a paid one after paying."""

import datacollective as dc
import datacollective.schema
import pytest

from licensing.models import Grant
from marketplace.demo_data import demo_archive
from tests.licensing.conftest import accept_terms, publish
from tests.licensing.test_orders import deliver_committed, order_for, pay
from tests.sdk.conftest import mdc  # noqa: F401 - the SDK environment fixture


@pytest.fixture
def registry(live_server, monkeypatch):
    """What the README tells a buyer to set (the SDK reads it at each call)."""
    monkeypatch.setattr(
        datacollective.schema, "SCHEMA_REGISTRY_RAW_BASE_URL", live_server.url + "/schema-registry"
    )


def _check_frame(df, dataset, clips: int, tmp_path):
    assert list(df.columns) == ["audio_path", "transcription", "duration_s"]
    assert len(df) == clips
    assert list(df["transcription"]) == [f"Demo sentence number {i}." for i in range(clips)]
    # Every clip path is a WAV the SDK extracted from the downloaded archive.
    for path in df["audio_path"]:
        assert path.startswith(str(tmp_path)) and path.endswith(".wav")
        with open(path, "rb") as clip:
            assert clip.read(4) == b"RIFF"
    assert str(df["duration_s"].dtype) == "float64"


def test_free_dataset_loads_after_terms(mdc, registry, provider, buyer, tmp_path):  # noqa: F811
    dataset = publish(provider, "Demo Welsh", data=demo_archive("demo-welsh", 6), task="ASR")
    mdc.use_key(buyer.secret)
    with pytest.raises(PermissionError, match="terms"):
        dc.load_dataset(dataset.public_id, download_directory=str(tmp_path), show_progress=False)
    accept_terms(buyer, dataset)
    df = dc.load_dataset(dataset.public_id, download_directory=str(tmp_path), show_progress=False)
    _check_frame(df, dataset, 6, tmp_path)


def test_paid_dataset_loads_after_purchase(mdc, registry, provider, buyer, tmp_path):  # noqa: F811
    dataset = publish(
        provider,
        "Demo Swahili",
        data=demo_archive("demo-swahili", 8),
        task="ASR",
        isPaid=True,
        basePriceCents=2500,
        currency="usd",
    )
    order = order_for(buyer, dataset)
    mdc.use_key(buyer.secret)
    with pytest.raises(Exception, match="402|[Pp]ayment"):
        dc.load_dataset(dataset.public_id, download_directory=str(tmp_path), show_progress=False)
    pay(order)
    deliver_committed("payment_intent.succeeded", order["paymentIntentId"])
    assert Grant.objects.filter(dataset=dataset, organization=buyer.org, status="active").exists()
    df = dc.load_dataset(dataset.public_id, download_directory=str(tmp_path), show_progress=False)
    _check_frame(df, dataset, 8, tmp_path)


def test_a_dataset_without_a_schema_is_not_supported(mdc, registry, provider, buyer, tmp_path):  # noqa: F811
    """An archive with no index file: the registry answers 404, which the SDK reports before
    downloading anything."""
    import gzip
    import io
    import tarfile

    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        payload = b"just some notes\n" * 50
        info = tarfile.TarInfo("notes/readme.txt")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    dataset = publish(provider, "Loose notes", data=buf.getvalue(), task="NLP")
    accept_terms(buyer, dataset)
    mdc.use_key(buyer.secret)
    with pytest.raises(RuntimeError, match="not supported by load_dataset"):
        dc.load_dataset(dataset.public_id, download_directory=str(tmp_path), show_progress=False)
    assert not list(tmp_path.iterdir())
