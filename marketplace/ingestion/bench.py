"""Throughput of inspect_archive on a local file, and a generator of benchmark archives.

    python -m marketplace.ingestion.bench --make 100 /tmp/bench-100.tar.gz   # ~100 MB archive
    python -m marketplace.ingestion.bench /tmp/bench-100.tar.gz               # prints JSON

`benchmark_inspect(path)` runs the inspection in a fresh interpreter by default so that the peak
RSS it reports belongs to the inspection alone."""

import argparse
import json
import random
import resource
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from marketplace.ingestion.limits import MIB, Limits

_WORDS = (
    "the of and to in is was for that with as on by at from his her they this have had not are "
    "which or be one all were we when an their there been has more if will would who so no said "
    "voice data speech open recording speaker sentence language collective people time year way "
    "day thing man world life hand part child eye woman place work week case point government "
    "company number group problem fact river mountain music garden window letter morning"
).split()


def _tsv_pool(rng: random.Random, rows: int) -> list[bytes]:
    pool = []
    for i in range(rows):
        sentence = " ".join(rng.choices(_WORDS, k=rng.randint(6, 18))).capitalize() + "."
        pool.append(
            b"%032x\tclips/cv_%08d.mp3\t%s\t%d\t%d\t%s\t%.4f\n"
            % (
                rng.getrandbits(128),
                i,
                sentence.encode(),
                rng.randint(0, 5),
                rng.randint(0, 2),
                rng.choice([b"twenties", b"thirties", b"fourties", b""]),
                rng.random(),
            )
        )
    return pool


def _wav(rng: random.Random, seconds: float, rate: int = 16000) -> bytes:
    import struct

    frames = int(seconds * rate)
    # Quiet noise: compresses somewhat, like real speech recordings.
    samples = bytes(
        rng.getrandbits(8) & 0x3F if i % 2 == 0 else 0 for i in range(2 * min(frames, 4000))
    )
    data = (samples * (frames // 4000 + 1))[: 2 * frames]
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(data),
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        rate,
        2 * rate,
        2,
        16,
        b"data",
        len(data),
    )
    return header + data


def make_benchmark_archive(
    path, *, target_bytes: int = 100 * MIB, audio_share: float = 0.1, seed: int = 0
) -> dict:
    """Writes a .tar.gz of about `target_bytes` compressed: TSV files of Common-Voice-like rows
    and 10-second WAV clips making up `audio_share` of the uncompressed bytes."""
    from isal import igzip

    rng = random.Random(seed)
    pool = _tsv_pool(rng, 50_000)
    wav = _wav(rng, 10.0)
    path = Path(path)
    written = {"tsv_files": 0, "wav_files": 0, "uncompressed_bytes": 0}
    header = b"client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tscore\n"
    with (
        path.open("wb") as raw,
        igzip.IGzipFile(fileobj=raw, mode="wb", compresslevel=2) as gz,
        tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):

        def add(name: str, data: bytes, counter: str) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, _BytesReader(data))
            written[counter] += 1
            written["uncompressed_bytes"] += len(data)
            gz.flush()

        # Mostly TSV (~45 MB files); WAV clips keep `audio_share` of the uncompressed bytes.
        while raw.tell() < target_bytes:
            if written["wav_files"] * len(wav) < audio_share * written["uncompressed_bytes"]:
                add(f"audio/clip-{written['wav_files']:05d}.wav", wav, "wav_files")
                continue
            rows = [header, *(b"".join(rng.choices(pool, k=20_000)) for _ in range(20))]
            add(f"text/part-{written['tsv_files']:04d}.tsv", b"".join(rows), "tsv_files")
    written["compressed_bytes"] = path.stat().st_size
    return written


class _BytesReader:
    def __init__(self, data: bytes):
        self._view = memoryview(data)
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._view) if n < 0 else self._pos + n
        out = self._view[self._pos : end]
        self._pos += len(out)
        return bytes(out)


def _measure(path: str, limits: Limits | None) -> dict:
    # Imported in the measuring process only, so the parent's baseline RSS does not include
    # the inspectors' libraries (isal, Pillow, mutagen, re2).
    from marketplace.ingestion.inspect import inspect_archive

    size = Path(path).stat().st_size
    start = time.perf_counter()
    with open(path, "rb") as f:
        report = inspect_archive(f, declared_size=size, limits=limits)
    seconds = time.perf_counter() - start
    return {
        "seconds": round(seconds, 3),
        "compressed_bytes": report.archive_size,
        "uncompressed_bytes": report.uncompressed_size,
        "mb_per_s": round(report.archive_size / seconds / 1e6, 1),
        "uncompressed_mb_per_s": round(report.uncompressed_size / seconds / 1e6, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "status": str(report.status),
        "members": len(report.members),
    }


def benchmark_inspect(path, *, limits: Limits | None = None, isolated: bool = True) -> dict:
    """Inspects a local .tar.gz once; returns seconds, MB/s (compressed and uncompressed) and
    peak RSS in MB (of a fresh interpreter when `isolated`, else of this process so far)."""
    if not isolated:
        return _measure(str(path), limits)
    if limits is not None:
        raise ValueError("custom limits need isolated=False")
    out = subprocess.run(
        [sys.executable, "-m", "marketplace.ingestion.bench", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument(
        "--make", type=int, metavar="MB", help="first write an archive of about MB megabytes"
    )
    args = parser.parse_args(argv)
    if args.make:
        made = make_benchmark_archive(args.path, target_bytes=args.make * 1_000_000)
        print(json.dumps(made), file=sys.stderr)
    print(json.dumps(_measure(args.path, None)))


if __name__ == "__main__":
    main()
