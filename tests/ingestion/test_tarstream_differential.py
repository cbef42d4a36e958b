"""Differential test of the streaming tar reader: for valid archives written by the standard
library's `tarfile` (ustar, GNU and pax formats), `TarReader` over `ArchiveStream` must report
the same members, in the same order, with the same path, type, size, mode, link target and data
(SHA-256) as `tarfile.open(mode="r|*")` reading the same bytes (the same tar, uncompressed, when
the gzip stream has several members: tarfile's stream mode reads only the first)."""

import gzip
import hashlib
import io
import random
import tarfile
from dataclasses import dataclass, field

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from marketplace.ingestion import Limits
from marketplace.ingestion.gzstream import ArchiveStream, SourceReader
from marketplace.ingestion.tarstream import (
    BLOCKDEV,
    CHARDEV,
    DIR,
    FIFO,
    FILE,
    HARDLINK,
    SYMLINK,
    TarReader,
)
from tests.ingestion.corpus import OnceReader

FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)
LINK_TYPES = (tarfile.SYMTYPE, tarfile.LNKTYPE)
FORMATS = (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT)
EDGE_SIZES = (0, 1, 100, 511, 512, 513, 1023, 1024, 1025, 10239, 10240, 10241)


# Member data that is itself a valid tar header (and more): a reader that loses track of where
# a member ends parses it as the next entry instead of failing loudly.
def _decoy() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        info = tarfile.TarInfo("decoy.txt")
        info.size = 700
        tf.addfile(info, io.BytesIO(b"d" * 700))
    return buf.getvalue()


DECOY = _decoy()


@dataclass
class Member:
    name: str
    type: bytes = tarfile.REGTYPE
    size: int = 0
    fill: str = "random"
    seed: int = 0
    mode: int = 0o644
    linkname: str = ""
    uname: str = ""
    pax: dict = field(default_factory=dict)

    def data(self) -> bytes:
        if self.fill == "zeros":  # looks like the end-of-archive marker
            return bytes(self.size)
        if self.fill == "decoy":
            offset = self.seed % len(DECOY)
            return (DECOY * (self.size // len(DECOY) + 2))[offset : offset + self.size]
        return random.Random(self.seed).randbytes(self.size)

    def tarinfo(self) -> tarfile.TarInfo:
        info = tarfile.TarInfo(self.name)
        info.type = self.type
        info.size = self.size if self.type in FILE_TYPES else 0
        info.mode = self.mode
        info.linkname = self.linkname
        info.uname = self.uname
        info.pax_headers = dict(self.pax)
        return info


@dataclass
class Case:
    members: list
    format: int = tarfile.PAX_FORMAT
    global_pax: dict = field(default_factory=dict)
    gzip_members: int = 1
    level: int = 6
    chunk: int = 1 << 20
    threaded: bool = True
    read_size: int = 1 << 16
    partial: dict = field(default_factory=dict)
    """Member index -> bytes to read of it; the rest is left for the reader to skip."""

    def tar(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(
            fileobj=buf,
            mode="w",
            format=self.format,
            pax_headers=self.global_pax or None,
            encoding="utf-8",
        ) as tf:
            for member in self.members:
                info = member.tarinfo()
                tf.addfile(info, io.BytesIO(member.data()) if info.isreg() else None)
        return buf.getvalue()

    def gz(self) -> bytes:
        """The tar in `gzip_members` concatenated gzip members (as bgzip or `cat a.gz b.gz`)."""
        raw = self.tar()
        cuts = sorted(random.Random(len(raw)).sample(range(1, len(raw)), self.gzip_members - 1))
        bounds = [0, *cuts, len(raw)]
        return b"".join(
            gzip.compress(raw[a:b], compresslevel=self.level, mtime=0)
            for a, b in zip(bounds, bounds[1:], strict=False)
        )


def v7_dir(name: str, kind: bytes) -> bool:
    return kind == tarfile.AREGTYPE and name.endswith("/")


def fits(member: Member, fmt: int) -> bool:
    try:
        member.tarinfo().tobuf(fmt, "utf-8", "surrogateescape")
    except ValueError:  # ustar: name or link target too long for its fields
        return False
    return True


# --- strategies ---------------------------------------------------------------------------

ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="/")
# Anything but "/", NUL and lone surrogates: accents, CJK, emoji, combining marks, controls.
UNICODE = st.characters(exclude_categories=("Cs",), exclude_characters="/\x00")


def _component(alphabet, max_size):
    return st.text(alphabet, min_size=1, max_size=max_size).filter(lambda c: c not in (".", ".."))


@st.composite
def exact_length_name(draw) -> str:
    """ASCII names whose byte length sits on a header field's edge (100-byte name field,
    155-byte ustar prefix, 512-byte blocks of a GNU long-name header)."""
    length = draw(st.sampled_from([1, 99, 100, 101, 154, 155, 156, 255, 256, 257, 511, 512, 513]))
    letters = bytearray(draw(st.binary(min_size=length, max_size=length)))
    chars = [chr(0x61 + b % 26) for b in letters]
    for pos in sorted(draw(st.sets(st.integers(1, max(length - 2, 1)), max_size=8))):
        if pos < length - 1 and chars[pos - 1] != "/" and chars[pos + 1] != "/":
            chars[pos] = "/"
    return "".join(chars)


NAMES = st.one_of(
    st.lists(_component(ASCII, 12), min_size=1, max_size=4).map("/".join),
    st.lists(_component(ASCII, 40), min_size=1, max_size=9).map("/".join),
    st.lists(_component(UNICODE, 10), min_size=1, max_size=4).map("/".join),
    st.lists(_component(UNICODE, 30), min_size=1, max_size=8).map("/".join),
    exact_length_name(),
)
SIZES = st.one_of(st.sampled_from(EDGE_SIZES), st.integers(0, 5000), st.integers(0, 300_000))
TYPES = st.sampled_from(
    [tarfile.REGTYPE] * 6
    + [tarfile.AREGTYPE, tarfile.CONTTYPE, tarfile.DIRTYPE, tarfile.DIRTYPE]
    + [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE]
)
PAX_EXTRA = st.dictionaries(
    st.sampled_from(["comment", "example.key", "Ω"]), st.text(max_size=300), max_size=2
)


@st.composite
def members(draw) -> Member:
    kind = draw(TYPES)
    name = draw(NAMES)
    if kind == tarfile.AREGTYPE:
        if len(name.encode()) < 100 and draw(st.booleans()):
            name += "/"  # a pre-POSIX (v7) directory: type "\0" with a trailing slash
        elif name.encode()[:100].endswith(b"/"):
            # tarfile applies the v7 rule to the name field cut at 100 bytes, not to the long
            # name it then uses: it would call this file a directory (ours and GNU tar do not)
            kind = tarfile.REGTYPE
    return Member(
        name=name,
        type=kind,
        size=draw(SIZES) if kind in FILE_TYPES and not v7_dir(name, kind) else 0,
        fill=draw(st.sampled_from(["random", "random", "zeros", "decoy"])),
        seed=draw(st.integers(0, 2**32 - 1)),
        mode=draw(st.integers(0, 0o7777)),
        linkname=draw(NAMES) if kind in LINK_TYPES else "",
        uname=draw(st.text(max_size=40)),
        pax=draw(PAX_EXTRA),
    )


def many_members(seed: int, count: int) -> list:
    """Hundreds of small members, from a seed (too many for hypothesis to draw one by one)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        kind = rng.choice([tarfile.REGTYPE] * 8 + [tarfile.DIRTYPE, tarfile.SYMTYPE])
        name = f"many/{i:04d}"
        if rng.random() < 0.2:
            name += "/" + "long-" * rng.randint(20, 60)
        if rng.random() < 0.2:
            name += "/ünïcødé-名前-😀"
        out.append(
            Member(
                name=name,
                type=kind,
                size=rng.choice([*EDGE_SIZES, rng.randint(0, 3000)]) if kind in FILE_TYPES else 0,
                fill=rng.choice(["random", "zeros", "decoy"]),
                seed=rng.getrandbits(32),
                linkname=f"many/{rng.randrange(count):04d}" if kind == tarfile.SYMTYPE else "",
            )
        )
    return out


@st.composite
def cases(draw) -> Case:
    if draw(st.integers(0, 4)) == 0:
        archive = many_members(draw(st.integers(0, 2**32 - 1)), draw(st.integers(100, 400)))
    else:
        archive = draw(st.lists(members(), max_size=12))
    # ustar only where every name and link target fits its fields
    allowed = [fmt for fmt in FORMATS if all(fits(m, fmt) for m in archive)]
    n = len(archive)
    return Case(
        members=archive,
        format=draw(st.sampled_from(allowed)),
        # tarfile cannot read back a global pax header that no member follows
        global_pax=draw(st.dictionaries(st.just("comment"), st.text(max_size=100), max_size=1))
        if n
        else {},
        gzip_members=draw(st.sampled_from([1, 1, 1, 2, 3])),
        level=draw(st.sampled_from([0, 1, 6, 9])),
        chunk=draw(st.sampled_from([1 << 20, 65536, 4096, 513, 97])),
        threaded=draw(st.booleans()),
        read_size=draw(st.sampled_from([1 << 20, 65536, 512, 100, 7])),
        partial=draw(st.dictionaries(st.integers(0, n - 1), st.integers(0, 2000), max_size=3))
        if n
        else {},
    )


# --- the two readers ----------------------------------------------------------------------


def _kind(info: tarfile.TarInfo) -> str:
    for test, kind in (
        (info.isreg, FILE),
        (info.isdir, DIR),
        (info.issym, SYMLINK),
        (info.islnk, HARDLINK),
        (info.ischr, CHARDEV),
        (info.isblk, BLOCKDEV),
        (info.isfifo, FIFO),
    ):
        if test():
            return kind
    raise AssertionError(f"unexpected tarfile type {info.type!r}")


def _seen(path, kind, size, mode, linkname, data: bytes) -> tuple:
    return (path, kind, size, mode, linkname, len(data), hashlib.sha256(data).hexdigest())


def read_with_tarfile(data: bytes, partial: dict) -> list:
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as tf:
        for i, info in enumerate(tf):
            body = tf.extractfile(info).read() if info.isreg() else b""
            if i in partial:
                body = body[: partial[i]]
            out.append(_seen(info.name, _kind(info), info.size, info.mode, info.linkname, body))
    return out


def read_with_ours(data: bytes, case: Case) -> list:
    limits = Limits(read_chunk_bytes=case.chunk, decompress_in_thread=case.threaded)
    archive = ArchiveStream(SourceReader(OnceReader(data, max_read=7000)), limits)
    try:
        tar = TarReader(
            archive,
            max_meta_bytes=limits.max_meta_header_bytes,
            max_name_bytes=limits.max_member_name_bytes,
        )
        out = []
        for i, entry in enumerate(tar.entries()):
            wanted = min(case.partial.get(i, entry.size), entry.size)
            parts, got = [], 0
            while got < wanted:
                part = tar.read(min(case.read_size, wanted - got))
                assert part, f"{entry.path!r}: data ends after {got} of {entry.size} bytes"
                assert len(part) <= case.read_size
                parts.append(part)
                got += len(part)
            if i not in case.partial:
                assert tar.read(case.read_size) == b"", f"{entry.path!r}: data past its size"
            # a directory's name keeps the trailing "/" it was written with; tarfile drops it
            assert entry.name.rstrip("/") == entry.path, entry
            out.append(
                _seen(
                    entry.path,
                    entry.type,
                    entry.size,
                    entry.mode,
                    entry.linkname,
                    b"".join(parts),
                )
            )
        assert tar.end_marker and tar.trailing_nonzero == 0
        return out
    finally:
        archive.close()


def expected(case: Case) -> list:
    """What the generator meant to write (keeps the comparison from passing on two empties)."""
    out = []
    for i, member in enumerate(case.members):
        info = member.tarinfo()
        kind = DIR if v7_dir(member.name, member.type) else _kind(info)
        body = member.data() if kind == FILE else b""
        if i in case.partial:
            body = body[: case.partial[i]]
        out.append(
            _seen(member.name.rstrip("/"), kind, info.size, member.mode, member.linkname, body),
        )
    return out


def _describe(case: Case) -> None:
    """Shown by `pytest --hypothesis-show-statistics`: what the examples covered."""
    event(f"format {('ustar', 'gnu', 'pax')[case.format]}")
    event(f"gzip members: {case.gzip_members}")
    event("hundreds of members" if len(case.members) >= 100 else "up to 12 members")
    names = [n for m in case.members for n in (m.name, m.linkname)]
    if any(len(n.encode()) > 100 for n in names):
        event("a name or link target over 100 bytes")
        if case.format == tarfile.USTAR_FORMAT:
            event("ustar with a name split into prefix and name")
    if any(not n.isascii() for n in names):
        event("a non-ASCII name")
    if {m.size for m in case.members} & {511, 512, 513}:
        event("a member of 511, 512 or 513 bytes")
    if case.partial:
        event("members left partly unread")
    if any(v7_dir(m.name, m.type) for m in case.members):
        event("a v7 directory (type NUL, trailing slash)")


def check(case: Case) -> None:
    _describe(case)
    data = case.gz()
    # tarfile's stream mode reads one gzip member only: give it the whole tar uncompressed then
    reference = data if case.gzip_members == 1 else gzip.decompress(data)
    theirs = read_with_tarfile(reference, case.partial)
    assert theirs == expected(case), "the generated archive is not what the test meant to write"
    ours = read_with_ours(data, case)
    assert len(ours) == len(theirs)
    for i, (mine, ref) in enumerate(zip(ours, theirs, strict=True)):
        assert mine == ref, f"member #{i} ({case.members[i].name!r}) of {case.format=}"


EDGE_CASE = Case(
    members=[
        Member("empty", size=0),
        Member("d", type=tarfile.DIRTYPE),
        Member("v7/", type=tarfile.AREGTYPE),
        Member("d/a" * 40, size=511, seed=1),
        Member("d/ünï/" + "n" * 120, size=512, fill="zeros"),
        Member("d/b", size=513, fill="decoy"),
        Member("l", type=tarfile.SYMTYPE, linkname="t/" * 80),
    ]
)


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cases())
@example(EDGE_CASE)
@example(Case(members=EDGE_CASE.members, format=tarfile.GNU_FORMAT, chunk=97, read_size=7))
@example(Case(members=[], format=tarfile.USTAR_FORMAT))
def test_tar_reader_agrees_with_tarfile(case):
    check(case)
