"""Issue 11, dynamic finding 8: random binary members were sniffed as MP3 (one frame-sync-like
header at the start was enough) and then failed as broken audio, sending the whole submission
back. MPEG audio now needs a chain of valid frames; an unknown binary member is no failure."""

import random
import struct

import pytest

from marketplace.ingestion import Status, inspect_archive
from marketplace.ingestion.sniff import MP3_MIN_FRAMES, SNIFF_BYTES, sniff
from marketplace.models import Submission
from tests.catalogue_helpers import DATASHEET, api, upload_bytes
from tests.factories import make_key
from tests.ingestion.corpus import OnceReader, sample, targz

# MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: a valid header (frames of 417 bytes).
FRAME_HEADER = b"\xff\xfb\x90\x64"


def random_binary(seed: int, size: int = 200_000, *, head: bytes = FRAME_HEADER) -> bytes:
    """Random bytes that begin like an MP3 frame: what compressed or encrypted members are."""
    return head + random.Random(seed).randbytes(size - len(head))


def id3v2(payload_size: int) -> bytes:
    syncsafe = bytes((payload_size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    return b"ID3\x04\x00\x00" + syncsafe + b"\x00" * payload_size


@pytest.mark.parametrize("seed", range(50))
def test_random_bytes_starting_with_a_frame_header_are_binary(seed):
    data = random_binary(seed)
    assert sniff(data[:SNIFF_BYTES], complete=False, path="blob.bin") == "binary"


def test_random_bytes_with_all_header_variants_are_never_mp3():
    rng = random.Random(7)
    hits = 0
    for second in range(0xE0, 0x100):
        for third in range(0, 0x100, 3):
            data = bytes([0xFF, second, third]) + rng.randbytes(8_000)
            hits += sniff(data, complete=False) == "mp3"
    assert hits == 0


def test_real_mp3_is_still_mp3():
    tone = sample("tone.mp3")
    assert sniff(tone[:SNIFF_BYTES], complete=len(tone) <= SNIFF_BYTES) == "mp3"
    # Behind an ID3v2 tag, whether the tag ends inside the sniffed head or beyond it.
    for tag in (id3v2(1000), id3v2(SNIFF_BYTES * 2)):
        data = tag + tone
        assert sniff(data[:SNIFF_BYTES], complete=len(data) <= SNIFF_BYTES) == "mp3"
    # A chain of frames is audio; a short member may end after its last whole frame, but one
    # frame followed by anything else is not a chain.
    frame = FRAME_HEADER + b"\x00" * 413
    assert sniff(frame * MP3_MIN_FRAMES + b"\x01\x02", complete=False) == "mp3"
    assert sniff(frame * 2, complete=True) == "mp3"
    assert sniff(frame * 2 + b"\x01\x02", complete=True) == "binary"
    assert sniff(frame + b"\x01" * 5000, complete=False) == "binary"


def test_id3_lookalikes_are_binary():
    rng = random.Random(3)
    assert sniff(b"ID3\x09\x00" + rng.randbytes(5000), complete=False) == "binary"
    bad_size = b"ID3\x03\x00\x00" + struct.pack(">I", 0x80808080)
    assert sniff(bad_size + rng.randbytes(5000), complete=False) == "binary"


def test_an_archive_of_random_binary_members_passes_the_format_check():
    members = [("data/index.tsv", b"path\tlabel\nblob0.bin\ta\n")]
    members += [(f"data/blob{n}.bin", random_binary(n)) for n in range(5)]
    members += [("data/noext", random_binary(99)), ("data/plain.dat", random.randbytes(4096))]
    report = inspect_archive(OnceReader(targz(members)))
    kinds = {m.path: m.kind for m in report.members}
    assert kinds["data/blob0.bin"] == "binary" and kinds["data/noext"] == "binary"
    formats = report.check("formats")
    assert formats.status == Status.PASS, formats.details
    assert report.status in (Status.PASS, Status.WARN)


@pytest.mark.django_db
def test_a_submission_with_random_binary_members_goes_to_review():
    secret, _ = make_key(uploads=True)
    client = api(secret)
    sid = client.post("/api/submissions", {"name": "Embeddings"}, format="json").json()[
        "submission"
    ]["id"]
    assert client.patch(f"/api/submissions/{sid}", DATASHEET, format="json").status_code == 200
    archive = targz(
        [("index.tsv", b"path\tlabel\nvec0.bin\ta\n")]
        + [(f"vec{n}.bin", random_binary(1000 + n, 50_000)) for n in range(4)]
    )
    upload_bytes(client, sid, archive)
    response = client.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
    assert response.status_code == 200, response.json()
    submission = Submission.objects.get(public_id=sid)
    assert submission.status == Submission.Status.IN_REVIEW, submission.review_note
