"""Hostile input in general: random damage to a valid archive, before or after compression,
always yields a report (never an exception), and the report is JSON."""

import gzip
import json
import tarfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.ingestion import CHECK_NAMES, inspect_archive
from tests.ingestion.corpus import OnceReader, entry, image, sample, tar_bytes, wav

RAW = tar_bytes(
    [
        ("a.tsv", b"x\ty\n1\t2\n3\t4\n"),
        ("b.csv", b'p,q\n"1,2",3\n'),
        ("c.jsonl", b'{"k": 1}\n{"k": 2}\n'),
        ("d.json", b'{"k": [1, 2]}'),
        ("e.parquet", sample("sample.parquet")),
        ("f.wav", wav(0.2)),
        ("g.mp3", sample("tone.mp3")),
        ("h.flac", sample("tone.flac")),
        ("i.ogg", sample("tone.ogg")),
        ("j.png", image("PNG")),
        ("k.gif", image("GIF")),
        entry("l", type=tarfile.SYMTYPE, linkname="a.tsv"),
    ]
)
DAMAGE = st.lists(
    st.tuples(st.integers(0, len(RAW) - 1), st.integers(0, 255)), min_size=1, max_size=30
)


def check(data: bytes) -> None:
    report = inspect_archive(OnceReader(data))
    assert tuple(report.checks) == CHECK_NAMES
    json.dumps(report.to_dict())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DAMAGE, st.integers(0, len(RAW)))
def test_damaged_tar_never_crashes(damage, cut):
    raw = bytearray(RAW)
    for pos, value in damage:
        raw[pos] = value
    check(gzip.compress(bytes(raw[: max(cut, 1)]), mtime=0))


COMPRESSED = gzip.compress(RAW, mtime=0)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(COMPRESSED) - 1), st.integers(0, 255)), min_size=1, max_size=10
    )
)
def test_damaged_gzip_never_crashes(damage):
    data = bytearray(COMPRESSED)
    for pos, value in damage:
        data[pos] = value
    check(bytes(data))
