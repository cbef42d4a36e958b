"""How the binary samples beside this file were made (run once, by hand; not part of the tests).

The tests need real MP3/FLAC/Ogg/Opus and Parquet files from real encoders and writers, which
cannot be produced with the project's own dependencies. Made with pyarrow 26.0.1 and soundfile
0.14.0 (libsndfile 1.2.2), installed outside the project's virtualenv:

    pip install --target /tmp/fixgen pyarrow soundfile
    PYTHONPATH=/tmp/fixgen .venv/bin/python tests/ingestion/samples/make_samples.py OUTDIR
"""

import datetime
import io
import sys
from pathlib import Path


def main(out: Path) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import soundfile as sf

    rate = 8000
    t = np.arange(int(rate * 1.5)) / rate
    tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype("float32")  # 1.5 s, mono
    for fmt, subtype, name in [
        ("FLAC", "PCM_16", "tone.flac"),
        ("OGG", "VORBIS", "tone.ogg"),
        ("OGG", "OPUS", "tone.opus"),
        ("MP3", "MPEG_LAYER_III", "tone.mp3"),
    ]:
        buf = io.BytesIO()
        sf.write(buf, tone, rate, format=fmt, subtype=subtype)
        (out / name).write_bytes(buf.getvalue())
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "text": ["a", "bb", "ccc"],
            "score": pa.array([0.5, 1.5, None], pa.float64()),
            "ok": [True, False, True],
            "day": pa.array([datetime.date(2024, 1, 1)] * 3),
            "ts": pa.array([datetime.datetime(2024, 1, 1)] * 3, pa.timestamp("us")),
            "tags": pa.array([["x"], ["y", "z"], []]),
            "meta": pa.array([{"a": 1, "b": "x"}] * 3),
            "small": pa.array([1, 2, 3], pa.int8()),
            "dec": pa.array([1, 2, 3], pa.decimal128(10, 2)),
            "bin": pa.array([b"x", b"y", b"z"]),
        }
    )
    pq.write_table(table, out / "sample.parquet")
    numbers = pa.table({"n": pa.array(range(1000), pa.int32()), "s": [str(i) for i in range(1000)]})
    pq.write_table(numbers, out / "rg.parquet", row_group_size=100, compression="snappy")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
