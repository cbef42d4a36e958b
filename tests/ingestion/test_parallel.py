"""The inspection's threads (decompression, the walk, the members' digests and personal-data
scans) must not change what it reports: the same archive gives the same report whichever work
runs on which thread, and the archive checksum covers every stored byte in order."""

import hashlib
import json
import threading

import pytest

from marketplace.ingestion import Limits, Status, inspect_archive
from marketplace.ingestion.offload import Offload
from tests.ingestion.corpus import OnceReader, targz, wav


def _tsv(rows: int, *, seed: int, pii_every: int = 0) -> bytes:
    lines = [b"client_id\tsentence\tup_votes\tscore\n"]
    for i in range(rows):
        note = b"ok"
        if pii_every and i % pii_every == 0:
            note = b"mail person%d.%d@example.org or call +44 20 7946 %04d" % (seed, i, i % 10000)
        lines.append(b"%08x\t%s number %d\t%d\t0.%03d\n" % (seed * 100_000 + i, note, i, i % 7, i))
    return b"".join(lines)


def _notes(lines: int, *, seed: int) -> bytes:
    """Plain text dense with personal data: cheap to check as text, slow to scan (every line
    holds candidates that are validated in Python), so the offload thread lags behind the walk
    and a scan that read its budget too early would see a different one."""
    return b"".join(
        b"note %d.%d: mail p%d@example.org, call +44 20 7946 %04d, from 10.0.%d.%d\n"
        % (seed, i, i, i % 10000, i % 250, seed)
        for i in range(lines)
    )


MEMBERS = [
    ("a/big-1.tsv", _tsv(5000, seed=1, pii_every=397)),  # ~160 KB: offloaded below
    ("a/small.txt", b"write to jane.doe@example.com\n"),  # inline, after an offloaded member
    ("a/big-2.tsv", _tsv(6000, seed=2, pii_every=389)),
    ("a/ragged.tsv", b"h1\th2\n1\t2\n3\n4\t5\t6\n"),
    ("a/doc.json", json.dumps({"contact": "ops@example.net", "pad": "x" * 30_000}).encode()),
    ("a/clip.wav", wav(1.5)),
    ("a/notes-1.txt", _notes(2500, seed=4)),
    ("a/big-3.tsv", _tsv(4000, seed=3, pii_every=401)),
    ("a/notes-2.txt", _notes(2000, seed=5)),
    ("a/last.txt", b"nothing personal here\n"),
]

# Small blocks and budgets so that a ~0.7 MB archive has many blocks per member, members on
# both sides of the offload threshold, sampled members and a spent archive-wide budget (the
# budget of each scan depends on what the members before it spent).
TIGHT = dict(
    read_chunk_bytes=4096,
    pii_scan_bytes_per_member=100_000,
    pii_scan_total_bytes=300_000,
    pii_min_sample_bytes=4096,
    pii_examples_per_kind=3,
)
MODES = {
    "sequential": Limits(decompress_in_thread=False, offload_min_member_bytes=None, **TIGHT),
    "decompression thread only": Limits(offload_min_member_bytes=None, **TIGHT),
    "offload only": Limits(decompress_in_thread=False, offload_min_member_bytes=8192, **TIGHT),
    "all members offloaded": Limits(offload_min_member_bytes=0, **TIGHT),
    "large members offloaded": Limits(offload_min_member_bytes=8192, **TIGHT),
}


@pytest.fixture(scope="module")
def archive() -> bytes:
    return targz(MEMBERS)


def _report(data: bytes, limits: Limits) -> dict:
    return inspect_archive(OnceReader(data, max_read=3000), limits=limits).to_dict()


def test_every_thread_layout_gives_the_sequential_report(archive):
    expected = _report(archive, MODES["sequential"])
    pii = next(c for c in expected["checks"] if c["name"] == "personal_data")["details"]
    # the archive does exercise what ordering could change
    assert pii["sampled_members"] >= 2 and pii["scanned_bytes"] < pii["text_bytes"]
    assert pii["counts"]["email"] > 3 and len(pii["examples"]["email"]) == 3
    digests = {m["path"]: m["sha256"] for m in expected["members"]}
    assert digests == {path: hashlib.sha256(data).hexdigest() for path, data in MEMBERS}
    for name, limits in MODES.items():
        for _ in range(3):  # thread timing differs from run to run
            assert _report(archive, limits) == expected, name


def test_offloaded_members_are_hashed_and_scanned_in_full():
    big = _tsv(20_000, seed=7, pii_every=1000)  # ~800 KB: many blocks on the offload thread
    data = targz([("big.tsv", big), ("tiny.txt", b"x\n")])
    report = inspect_archive(OnceReader(data), limits=Limits(offload_min_member_bytes=1))
    member = next(m for m in report.members if m.path == "big.tsv")
    assert member.sha256 == hashlib.sha256(big).hexdigest()
    assert member.rows == 20_000
    pii = report.check("personal_data")
    assert pii.status == Status.WARN and pii.details["counts"]["email"] == 20
    assert pii.details["scanned_bytes"] == pii.details["text_bytes"] == len(big) + 2


@pytest.mark.parametrize("threaded", [True, False])
@pytest.mark.parametrize("damage", ["middle", "trailing data"])
def test_archive_checksum_covers_every_byte_after_a_structural_error(threaded, damage):
    good = targz(MEMBERS)
    if damage == "middle":  # the tar inside turns to garbage half-way
        pos = len(good) // 2
        data = good[:pos] + bytes(b ^ 0x55 for b in good[pos : pos + 64]) + good[pos + 64 :]
    else:  # the gzip stream ends, then 100 KB that are not gzip (read by the decompression)
        data = good + bytes(range(256)) * 400
    limits = Limits(read_chunk_bytes=4096, decompress_in_thread=threaded)
    report = inspect_archive(OnceReader(data, max_read=1000), limits=limits)
    assert report.stop_reason in ("gzip_corrupt", "tar_corrupt", "gzip_truncated")
    # the rest of the stored bytes was still read, and hashed in order
    assert report.archive_size == len(data)
    assert report.archive_sha256 == hashlib.sha256(data).hexdigest()


def test_offload_runs_calls_in_order_across_threaded_and_inline_members():
    offload = Offload(depth=2)
    seen: list[tuple[int, str]] = []
    threads: set[str] = set()

    def record(i: int) -> None:
        threads.add(threading.current_thread().name)
        seen.append((i, threading.current_thread().name))

    try:
        for member in range(6):
            offload.member(threaded=member % 2 == 0)
            for i in range(member * 10, member * 10 + 10):
                offload.call(record, i)
    finally:
        offload.close()
    offload.check()
    assert [i for i, _ in seen] == list(range(60))
    assert threads == {"MainThread", "ingestion-members"}
    assert all(name == "ingestion-members" for i, name in seen if (i // 10) % 2 == 0)


def test_offload_hands_an_unexpected_failure_to_the_caller():
    offload = Offload()

    def fail() -> None:
        raise MemoryError("simulated")

    offload.member(threaded=True)
    offload.call(fail)
    offload.close()
    with pytest.raises(MemoryError):
        offload.check()
    offload.check()  # reported once
