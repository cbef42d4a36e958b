"""inspect_archive on good archives and on the bad-input corpus of the ingestion-checks issue.
Every archive is built in the test; each bad input must give its own clear finding and none may
crash the inspection."""

import gzip
import hashlib
import json
import tarfile

import pytest

from marketplace.ingestion import (
    CHECK_NAMES,
    InputStreamError,
    InspectionReport,
    Limits,
    Status,
    inspect_archive,
)
from tests.ingestion.corpus import (
    BombReader,
    FailingReader,
    OnceReader,
    entry,
    image,
    sample,
    tar_bytes,
    targz,
    wav,
)

TSV = b"client_id\tsentence\tup_votes\tscore\tvalid\nabc\thello there\t2\t0.5\ttrue\ndef\tgood morning\t0\t1.25\tfalse\n"
JSONL = b'{"id": 1, "text": "a", "score": 0.5}\n{"id": 2, "text": "b", "score": 1}\n'


def inspect(data: bytes, **kw) -> InspectionReport:
    reader = OnceReader(data)
    report = inspect_archive(reader, **kw)
    json.dumps(report.to_dict())  # always JSON-serialisable
    assert tuple(report.checks) == CHECK_NAMES
    return report


def codes(report: InspectionReport, check: str) -> set[str]:
    return {f["code"] for f in report.check(check).details["findings"]}


def member(report: InspectionReport, path: str):
    return next(m for m in report.members if m.path == path)


@pytest.fixture(scope="module")
def good_archive() -> bytes:
    return targz(
        [
            entry("dataset/", type=tarfile.DIRTYPE),
            ("dataset/train.tsv", TSV),
            ("dataset/meta.csv", b'name,notes,count\nx,"a, quoted\nmultiline note",3\ny,plain,4\n'),
            ("dataset/records.jsonl", JSONL),
            ("dataset/table.parquet", sample("sample.parquet")),
            ("dataset/clips/a.wav", wav(2.0)),
            ("dataset/clips/b.mp3", sample("tone.mp3")),
            ("dataset/clips/c.flac", sample("tone.flac")),
            ("dataset/clips/d.ogg", sample("tone.ogg")),
            ("dataset/clips/e.opus", sample("tone.opus")),
            ("dataset/images/a.png", image("PNG")),
            ("dataset/images/b.jpg", image("JPEG", (40, 30))),
            ("dataset/images/c.gif", image("GIF")),
            ("dataset/images/d.webp", image("WEBP")),
            ("dataset/README.txt", "Données libres, ünïcode text.\n".encode()),
            ("dataset/empty.txt", b""),
            entry("dataset/latest.tsv", type=tarfile.SYMTYPE, linkname="train.tsv"),
        ]
    )


def test_good_archive_passes_every_check(good_archive):
    sha = hashlib.sha256(good_archive).hexdigest()
    report = inspect(good_archive, declared_sha256=sha.upper(), declared_size=len(good_archive))
    statuses = {name: c.status for name, c in report.checks.items()}
    assert statuses == {
        "integrity": Status.PASS,
        "archive_safety": Status.PASS,
        "manifest": Status.PASS,
        "formats": Status.PASS,
        "statistics": Status.PASS,
        "personal_data": Status.PASS,
        "duplicates": Status.PASS,
        "malware": Status.SKIPPED,
    }, {n: c.summary for n, c in report.checks.items()}
    assert report.status == Status.PASS
    assert report.complete and report.stop_reason is None
    assert report.archive_sha256 == sha and report.archive_size == len(good_archive)
    kinds = {m.path.rsplit("/", 1)[-1]: m.kind for m in report.members}
    assert kinds == {
        "train.tsv": "tsv",
        "meta.csv": "csv",
        "records.jsonl": "jsonl",
        "table.parquet": "parquet",
        "a.wav": "wav",
        "b.mp3": "mp3",
        "c.flac": "flac",
        "d.ogg": "ogg",
        "e.opus": "ogg",
        "a.png": "png",
        "b.jpg": "jpeg",
        "c.gif": "gif",
        "d.webp": "webp",
        "README.txt": "text",
        "empty.txt": "empty",
    }
    # manifest: every regular file with its size and SHA-256
    manifest = {path: (size, digest) for path, size, digest in report.manifest}
    assert manifest["dataset/train.tsv"] == (len(TSV), hashlib.sha256(TSV).hexdigest())
    assert report.check("manifest").details["members"] == 15
    assert report.check("archive_safety").details["symlinks"] == 1


def test_good_archive_describes_members_for_the_dataset_card(good_archive):
    report = inspect(good_archive)
    tsv = member(report, "dataset/train.tsv")
    assert tsv.mime == "text/tab-separated-values" and tsv.rows == 2 and tsv.has_header
    assert [(c.name, c.type) for c in tsv.columns] == [
        ("client_id", "text"),
        ("sentence", "text"),
        ("up_votes", "integer"),
        ("score", "float"),
        ("valid", "bool"),
    ]
    csv_member = member(report, "dataset/meta.csv")
    assert csv_member.rows == 2 and [c.name for c in csv_member.columns] == [
        "name",
        "notes",
        "count",
    ]
    jsonl = member(report, "dataset/records.jsonl")
    assert jsonl.mime == "application/jsonlines" and jsonl.rows == 2
    assert [(c.name, c.type) for c in jsonl.columns] == [
        ("id", "integer"),
        ("text", "text"),
        ("score", "float"),
    ]
    parquet = member(report, "dataset/table.parquet")
    assert parquet.rows == 3 and parquet.mime == "application/x-parquet"
    assert [(c.name, c.type) for c in parquet.columns][:4] == [
        ("id", "integer"),
        ("text", "text"),
        ("score", "float"),
        ("ok", "bool"),
    ]
    assert member(report, "dataset/clips/a.wav").duration_seconds == 2.0
    for name in ("b.mp3", "c.flac", "d.ogg", "e.opus"):
        assert member(report, f"dataset/clips/{name}").duration_seconds == pytest.approx(
            1.5, abs=0.1
        )
    png = member(report, "dataset/images/a.png")
    assert (png.width, png.height, png.extra["decoded"]) == (32, 24, True)
    assert member(report, "dataset/images/b.jpg").width == 40
    stats = report.check("statistics").details
    assert stats["files_by_type"]["ogg"] == 2
    assert stats["total_rows"] == 2 + 2 + 2 + 3
    assert stats["audio_files"] == 5
    assert stats["audio_seconds"] == pytest.approx(8.0, abs=0.3)
    assert stats["columns"]["dataset/train.tsv"][2] == {"name": "up_votes", "type": "integer"}
    assert stats["images"]["count"] == 4


# --- the bad-input corpus -----------------------------------------------------------------


def test_bomb_is_stopped_after_a_bounded_read():
    bomb = BombReader(member_bytes=20 * 1024**3)  # 20 GiB of zeros from ~20 MB of gzip
    report = inspect_archive(bomb, limits=Limits(ratio_grace_bytes=8 << 20))
    assert report.status == Status.FAIL and report.stop_reason == "ratio_exceeded"
    safety = report.check("archive_safety")
    finding = safety.details["findings"][0]
    assert finding["code"] == "ratio_exceeded" and finding["member"] == "zeros.bin"
    # stopped within the grace window plus a few decompressed blocks and the read-ahead
    assert finding["uncompressed_bytes_read"] < 16 << 20
    assert bomb.consumed < 2 << 20 < bomb.compressed_size
    assert report.archive_sha256 is None and report.check("integrity").status == Status.SKIPPED
    assert report.check("manifest").status == Status.SKIPPED


def test_total_size_and_member_count_caps():
    archive = targz([(f"f{i}.txt", b"x" * 2000) for i in range(20)])
    report = inspect(archive, limits=Limits(max_members=5))
    assert report.stop_reason == "member_count_exceeded"
    assert report.check("archive_safety").status == Status.FAIL
    report = inspect(archive, limits=Limits(max_total_uncompressed=10_000))
    assert report.stop_reason == "total_size_exceeded"
    # a header that declares more than the cap is refused before its data is read
    header = tarfile.TarInfo("huge.bin")
    header.size = 5 * 1024**4
    report = inspect(gzip.compress(header.tobuf(format=tarfile.GNU_FORMAT) + bytes(4096)))
    assert report.stop_reason == "total_size_exceeded"
    assert "huge.bin" in report.check("archive_safety").summary


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("../../etc/passwd", "path_traversal"),
        ("data/../../x", "path_traversal"),
        ("/etc/passwd", "absolute_path"),
    ],
)
def test_unsafe_paths(name, code):
    report = inspect(targz([("ok.txt", b"fine\n"), (name, b"root:x:0:0\n")]))
    assert report.check("archive_safety").status == Status.FAIL
    assert code in codes(report, "archive_safety")
    assert report.status == Status.FAIL


def test_symlink_escape_and_path_through_symlink():
    report = inspect(
        targz(
            [
                entry("data/link", type=tarfile.SYMTYPE, linkname="../../../etc"),
                ("data/link/passwd", b"x\n"),
                entry("abs", type=tarfile.SYMTYPE, linkname="/etc/shadow"),
                entry("inside", type=tarfile.SYMTYPE, linkname="data/ok.txt"),
                ("data/ok.txt", b"fine\n"),
            ]
        )
    )
    found = report.check("archive_safety").details["findings"]
    assert [f["code"] for f in found] == ["link_escape", "path_through_symlink", "link_escape"]
    assert {f["member"] for f in found} == {"data/link", "data/link/passwd", "abs"}


def test_hard_links_are_refused():
    report = inspect(
        targz([("a.txt", b"x\n"), entry("b.txt", type=tarfile.LNKTYPE, linkname="a.txt")])
    )
    assert codes(report, "archive_safety") == {"hardlink"}
    assert report.check("archive_safety").status == Status.FAIL


def test_device_files_and_fifos():
    report = inspect(
        targz(
            [
                entry("dev/sda", type=tarfile.BLKTYPE),
                entry("dev/tty", type=tarfile.CHRTYPE),
                entry("pipe", type=tarfile.FIFOTYPE),
            ]
        )
    )
    assert [f["code"] for f in report.check("archive_safety").details["findings"]] == [
        "device_file",
        "device_file",
        "fifo",
    ]


def test_duplicate_member_names():
    report = inspect(targz([("a/x.txt", b"1\n"), ("b.txt", b"2\n"), ("./a//x.txt", b"3\n")]))
    assert codes(report, "archive_safety") == {"duplicate_name"}
    assert report.check("archive_safety").details["findings"][0]["member"] == "a/x.txt"


def test_truncated_gzip(good_archive):
    cut = good_archive[: len(good_archive) // 2]
    report = inspect(cut, declared_size=len(good_archive))
    assert report.stop_reason == "gzip_truncated"
    assert report.check("archive_safety").details["findings"][0]["code"] == "gzip_truncated"
    # the raw bytes were still read to the end: the size check can say what happened
    assert report.check("integrity").status == Status.FAIL
    assert "declared" in report.check("integrity").summary


def test_not_gzip_named_tar_gz():
    report = inspect(b"PK\x03\x04" + b"\x00" * 200)
    assert report.stop_reason == "not_gzip"
    assert "zip archive" in report.check("archive_safety").summary
    plain_tar = inspect(tar_bytes([("a.txt", b"x")]))
    assert plain_tar.stop_reason == "not_gzip"
    assert "uncompressed tar" in plain_tar.check("archive_safety").summary
    assert inspect(b"").stop_reason == "empty"


def test_gzip_of_something_else_than_tar():
    report = inspect(gzip.compress(b"just some text, not a tar archive\n" * 100))
    assert report.stop_reason == "not_tar"
    assert report.check("archive_safety").status == Status.FAIL


def test_wrong_declared_checksum_and_size(good_archive):
    report = inspect(good_archive, declared_sha256="0" * 64, declared_size=len(good_archive) + 1)
    integrity = report.check("integrity")
    assert integrity.status == Status.FAIL
    assert "does not match" in integrity.summary and "declared" in integrity.summary
    assert integrity.details["sha256"] == hashlib.sha256(good_archive).hexdigest()
    assert report.check("formats").status == Status.PASS  # the other checks still ran


def test_non_utf8_tsv():
    data = "id\tname\n1\tJosé\n2\tZoë\n".encode("latin-1")
    report = inspect(targz([("names.tsv", data)]))
    [finding] = report.check("formats").details["findings"]
    assert finding["code"] == "not_utf8" and finding["lines"] == [2, 3]
    assert report.check("formats").status == Status.FAIL


def test_ragged_tsv_names_rows():
    data = b"a\tb\tc\n1\t2\t3\n4\t5\n6\t7\t8\t9\n10\t11\t12\n"
    report = inspect(targz([("t.tsv", data)]))
    [finding] = report.check("formats").details["findings"]
    assert finding["code"] == "ragged_rows"
    assert finding["rows"] == [[3, 2], [4, 4]] and finding["count"] == 2
    assert "lines 3, 4" in finding["message"]


def test_ragged_rows_found_past_the_first_block():
    row = b"x" * 50 + b"\t1\t2.5\n"
    body = b"text\tn\tv\n" + row * 60_000 + b"short\n" + row * 20_000  # ~4.7 MB
    report = inspect(targz([("big.tsv", body)]))
    [finding] = report.check("formats").details["findings"]
    assert finding["rows"] == [[60_002, 1]]
    assert member(report, "big.tsv").rows == 80_001


def test_malformed_jsonl_names_lines():
    data = b'{"a": 1}\n{"a": 2,}\n[1, 2]\n{"a": \n\n{"a": 5}\n'
    report = inspect(targz([("r.jsonl", data)]))
    by_code = {f["code"]: f for f in report.check("formats").details["findings"]}
    assert [line for line, _ in by_code["malformed_jsonl"]["lines"]] == [2, 4]
    assert by_code["blank_lines"]["lines"] == [5]
    assert report.check("formats").status == Status.FAIL


def test_truncated_wav():
    report = inspect(targz([("clip.wav", wav(1.0, truncate_to=5000))]))
    [finding] = report.check("formats").details["findings"]
    assert finding["code"] == "audio_truncated"
    assert finding["declared"] == 16000 and finding["present"] == 5000 - 44
    assert member(report, "clip.wav").duration_seconds == pytest.approx(
        (5000 - 44) / 16000, abs=1e-3
    )


def test_corrupt_media_and_parquet_each_get_a_finding():
    png = image("PNG", (64, 64))
    report = inspect(
        targz(
            [
                ("broken.png", png[: len(png) // 2]),
                ("broken.parquet", sample("sample.parquet")[:-100]),
                ("broken.flac", sample("tone.flac")[:20]),
                ("fake.wav", b"just text\n"),
            ]
        )
    )
    found = {f["member"]: f["code"] for f in report.check("formats").details["findings"]}
    assert found == {
        "broken.png": "image_invalid",
        "broken.parquet": "parquet_invalid",
        "broken.flac": "audio_invalid",
        "fake.wav": "extension_mismatch",
    }


def test_a_crashing_parser_becomes_an_error_finding(monkeypatch, good_archive):
    from marketplace.ingestion import media

    def boom(self):
        raise RuntimeError("parser bug")

    monkeypatch.setattr(media.AudioAnalyzer, "finish", boom)
    report = inspect(good_archive)
    errors = [
        f for f in report.check("formats").details["findings"] if f["code"] == "inspection_error"
    ]
    assert len(errors) == 5 and "parser bug" in errors[0]["message"]
    assert report.check("formats").status == Status.ERROR
    assert report.complete and len(report.members) == 15  # the walk went on
    assert member(report, "dataset/clips/a.wav").status == Status.ERROR


def test_storage_errors_propagate_as_input_stream_error(good_archive):
    with pytest.raises(InputStreamError):
        inspect_archive(FailingReader(good_archive, fail_after=len(good_archive) // 3))
    with pytest.raises(InputStreamError):
        inspect_archive(FailingReader(good_archive, fail_after=10))


# --- personal data and duplicates ---------------------------------------------------------


PII_TSV = (
    b"id\tnote\n"
    b"1\tmail jane.doe@example.com please\n"
    b"2\tcall +44 20 7946 0958\n"
    b"3\tcard 4111 1111 1111 1111\n"
    b"4\tiban DE89 3704 0044 0532 0130 00\n"
    b"5\tssn 123-45-6789 from 192.168.10.20\n"
)


def test_personal_data_warns_by_default_and_fails_by_policy():
    archive = targz([("notes.tsv", PII_TSV), ("clean.tsv", TSV)])
    report = inspect(archive)
    pii = report.check("personal_data")
    assert pii.status == Status.WARN
    assert pii.details["counts"] == {
        "email": 1,
        "phone": 1,
        "payment_card": 1,
        "iban": 1,
        "us_ssn": 1,
        "ip_address": 1,
    }
    assert pii.details["examples"]["email"] == [
        {"member": "notes.tsv", "line": 2, "redacted": "j***@***.com"}
    ]
    assert pii.details["examples"]["payment_card"][0]["redacted"] == "************1111"
    assert "jane" not in json.dumps(pii.details) and "4111 1111" not in json.dumps(pii.details)
    assert report.status == Status.WARN
    strict = inspect(archive, pii_policy="fail")
    assert strict.check("personal_data").status == Status.FAIL and strict.status == Status.FAIL


def test_duplicates_against_known_hashes(good_archive):
    tsv_sha = hashlib.sha256(TSV).hexdigest()
    report = inspect(good_archive, known_member_hashes={tsv_sha})
    dup = report.check("duplicates")
    assert dup.details["known_members"] == 1
    assert dup.details["overlap_percent"] == round(100 / 14, 2)  # the empty file does not count
    assert dup.details["archive_sha256"] == report.archive_sha256
    calls = []

    def lookup(digests):
        calls.append(digests)
        return [d for d in digests if d == tsv_sha]

    assert (
        inspect(good_archive, known_member_hashes=lookup)
        .check("duplicates")
        .details["known_members"]
        == 1
    )
    assert len(calls) == 1 and len(calls[0]) == 14
    twins = inspect(targz([("a.txt", b"same\n"), ("b.txt", b"same\n")])).check("duplicates")
    assert twins.details["identical_member_groups"] == 1


def test_report_is_json_with_members(good_archive):
    report = inspect(good_archive)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["status"] == "pass"
    assert [c["name"] for c in data["checks"]] == list(CHECK_NAMES)
    tsv = next(m for m in data["members"] if m["path"] == "dataset/train.tsv")
    assert tsv["columns"][0] == {"name": "client_id", "type": "text", "source_type": None}


def test_single_threaded_mode_gives_the_same_report(good_archive):
    threaded = inspect(good_archive).to_dict()
    plain = inspect(good_archive, limits=Limits(decompress_in_thread=False)).to_dict()
    assert plain == threaded


def test_reads_a_boto3_streaming_body_from_object_storage(good_archive, local_services):
    from marketplace.storage import bucket, s3_client

    client = s3_client()
    client.put_object(Bucket=bucket(), Key="ingestion-test/good.tar.gz", Body=good_archive)
    body = client.get_object(Bucket=bucket(), Key="ingestion-test/good.tar.gz")["Body"]
    try:
        report = inspect_archive(body, declared_sha256=hashlib.sha256(good_archive).hexdigest())
    finally:
        body.close()
    assert report.status == Status.PASS and report.archive_size == len(good_archive)
