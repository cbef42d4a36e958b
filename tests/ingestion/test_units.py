"""The tar reader, the Parquet footer reader and the archive stream on their own."""

import gzip
import io
import random
import struct
import tarfile

import pytest

from marketplace.ingestion import Limits, Status, inspect_archive
from marketplace.ingestion.parquet import ThriftError, read_footer, schema_columns
from marketplace.ingestion.tarstream import link_escapes, normalise
from tests.ingestion.corpus import OnceReader, entry, sample, tar_bytes, targz


def footer(data: bytes) -> bytes:
    n = struct.unpack_from("<I", data, len(data) - 8)[0]
    return data[len(data) - 8 - n : len(data) - 8]


def test_parquet_footer_schema_and_rows():
    meta = read_footer(footer(sample("rg.parquet")))
    assert meta[3] == 1000
    assert [(c.name, c.type, c.source_type) for c in schema_columns(meta[2])] == [
        ("n", "integer", "INT32"),
        ("s", "text", "BYTE_ARRAY/STRING"),
    ]
    columns = schema_columns(read_footer(footer(sample("sample.parquet")))[2])
    assert {c.name: c.source_type for c in columns}["tags"] == "GROUP/LIST"
    assert {c.name: c.type for c in columns}["dec"] == "float"


def test_parquet_reader_survives_garbage():
    data = footer(sample("sample.parquet"))
    rng = random.Random(7)
    for _ in range(400):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        cut = bytes(mutated[: rng.randint(0, len(mutated))])
        try:
            meta = read_footer(cut)
            schema_columns(meta.get(2) or [])
        except (ThriftError, AttributeError, TypeError, UnicodeDecodeError):
            pass


def test_path_helpers():
    assert normalise("./a//b/./c/") == "a/b/c"
    assert link_escapes("a/b/link", "../../../x")
    assert not link_escapes("a/b/link", "../../x")
    assert link_escapes("link", "/etc/passwd")
    assert link_escapes("a/link", "..\\..\\x")


def test_long_names_pax_and_gnu():
    long = "d/" + "n" * 300 + ".txt"
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        report = inspect_archive(OnceReader(targz([(long, b"hello\n")], format=fmt)))
        assert report.status == Status.PASS, report.to_dict()
        assert report.members[0].path == long


def test_pax_header_size_is_capped():
    info = tarfile.TarInfo("x.txt")
    info.pax_headers = {"comment": "c" * 5000}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(info, io.BytesIO(b""))
    report = inspect_archive(
        OnceReader(gzip.compress(buf.getvalue())), limits=Limits(max_meta_header_bytes=1024)
    )
    assert report.stop_reason == "header_too_large"


def test_sparse_and_unknown_types_are_refused():
    sparse = entry("s.bin", b"", type=tarfile.GNUTYPE_SPARSE)
    odd = entry("odd", b"", type=b"Z")
    report = inspect_archive(OnceReader(targz([odd], format=tarfile.GNU_FORMAT)))
    assert {f["code"] for f in report.check("archive_safety").details["findings"]} == {
        "unsupported_type"
    }
    report = inspect_archive(OnceReader(targz([sparse], format=tarfile.GNU_FORMAT)))
    assert report.check("archive_safety").status == Status.FAIL


def test_corrupt_tar_header_after_the_first():
    raw = bytearray(tar_bytes([("a.txt", b"a" * 10), ("b.txt", b"b")], format=tarfile.USTAR_FORMAT))
    raw[1024 + 10] ^= 0xFF  # second header's name: its checksum no longer matches
    report = inspect_archive(OnceReader(gzip.compress(bytes(raw))))
    assert report.stop_reason == "tar_corrupt"
    assert [m.path for m in report.members] == ["a.txt"]


@pytest.mark.parametrize("limit", [1, 3])
def test_trailing_garbage_after_end_marker_is_reported(limit):
    raw = tar_bytes([("a.txt", b"a")]) + b"hidden payload" * limit
    report = inspect_archive(OnceReader(gzip.compress(raw)))
    assert "data_after_end" in {
        f["code"] for f in report.check("archive_safety").details["findings"]
    }


def test_stdlib_gzip_fallback_gives_the_same_findings(monkeypatch):
    from marketplace.ingestion import gzstream

    archive = targz([("t.tsv", b"a\tb\n1\t2\n3\n"), ("r.jsonl", b'{"a": 1}\n')])
    fast = inspect_archive(OnceReader(archive)).to_dict()
    monkeypatch.setattr(gzstream, "_gzip_impl", gzip)
    plain = inspect_archive(OnceReader(archive)).to_dict()
    for report in (fast, plain):
        report["checks"][1]["details"].pop("gzip_backend")
    assert plain == fast
    truncated = inspect_archive(OnceReader(archive[:-30]))
    assert truncated.stop_reason == "gzip_truncated"


def test_pii_policy_is_validated():
    with pytest.raises(ValueError):
        inspect_archive(OnceReader(b""), pii_policy="maybe")
