"""A streaming tar reader for hostile input.

Not the standard library's `tarfile`: in stream mode it reads a pax or GNU long-name header of
any declared size into memory in one piece, expands sparse members from a small map, and gives no
say over how much is read; here every header is capped, sparse members are refused, and member
data is handed out in bounded blocks. Understood: ustar/POSIX, GNU (long names, base-256 sizes)
and pax (path, linkpath, size) headers, v7 headers."""

import posixpath
import re
from dataclasses import dataclass

from marketplace.ingestion.gzstream import ArchiveStream, Stop

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)

FILE, DIR, SYMLINK, HARDLINK, CHARDEV, BLOCKDEV, FIFO = (
    "file",
    "directory",
    "symlink",
    "hardlink",
    "character device",
    "block device",
    "fifo",
)
_TYPES = {
    b"0": FILE,
    b"\x00": FILE,
    b"7": FILE,  # contiguous file: a regular file everywhere that matters
    b"1": HARDLINK,
    b"2": SYMLINK,
    b"3": CHARDEV,
    b"4": BLOCKDEV,
    b"5": DIR,
    b"6": FIFO,
    b"D": DIR,  # GNU dump directory: its data is a listing, skipped
}
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(slots=True)
class TarEntry:
    name: str
    """As stored (decoded), for messages."""
    path: str
    """Normalised: no leading "./", no empty or "." components, no trailing slash."""
    type: str
    size: int
    """Data bytes stored after the header (0 for links, directories and special files)."""
    linkname: str
    mode: int
    problems: list
    """(severity, code, message) tuples found in the header: "fail" or "warn"."""
    sparse: bool = False
    unknown_type: bytes | None = None


def _number(field: bytes) -> int | None:
    if field and field[0] & 0x80:  # GNU base-256
        if field[0] == 0xFF:  # negative
            return None
        value = field[0] & 0x7F
        for byte in field[1:]:
            value = (value << 8) | byte
        return value
    text = field.split(b"\x00", 1)[0].strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        return None


def _text(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace"), False


def _checksum_ok(block: bytes) -> bool:
    stored = _number(block[148:156])
    if stored is None:
        return False
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    if stored == unsigned:
        return True
    signed = sum((b - 256 if b > 127 else b) for b in block[:148] + block[156:]) + 8 * 32
    return stored == signed


def parse_pax(data: bytes) -> dict[str, str]:
    """Records "<len> <key>=<value>\\n"; a malformed record raises ValueError."""
    out = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # some writers pad with NULs
            break
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        if length <= 0 or pos + length > len(data):
            raise ValueError("bad pax record length")
        record = data[space + 1 : pos + length]
        if not record.endswith(b"\n") or b"=" not in record:
            raise ValueError("bad pax record")
        key, value = record[:-1].split(b"=", 1)
        out[key.decode("utf-8", "replace")] = value.decode("utf-8", "backslashreplace")
        pos += length
    return out


def normalise(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts)


def check_name(name: str, max_bytes: int) -> list:
    """Problems of a member name: absolute, traversal, Windows drive, control characters."""
    problems = []
    if len(name.encode("utf-8", "surrogatepass")) > max_bytes:
        problems.append(("fail", "name_too_long", f"member name longer than {max_bytes} bytes"))
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        problems.append(("fail", "absolute_path", f"absolute member path {name!r}"))
    if ".." in re.split(r"[/\\]", name):
        problems.append(("fail", "path_traversal", f"member path {name!r} contains '..'"))
    if "\x00" in name:
        problems.append(("fail", "nul_in_name", f"member name {name!r} contains a NUL byte"))
    elif _CONTROL.search(name):
        problems.append(
            ("warn", "control_chars_in_name", f"member name {name!r} has control characters")
        )
    return problems


def link_escapes(member_path: str, target: str) -> bool:
    """True when a symlink at member_path pointing to target resolves outside the archive root."""
    if target.startswith(("/", "\\")) or _DRIVE.match(target):
        return True
    joined = posixpath.join(posixpath.dirname(member_path), target.replace("\\", "/"))
    depth = 0
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        else:
            depth += 1
    return False


class TarReader:
    """Iterate `entries()`; while an entry is current, `read(n)` returns its data in blocks.
    The rest of an entry's data (and its padding) is skipped when the next entry is asked for."""

    def __init__(self, stream: ArchiveStream, *, max_meta_bytes: int, max_name_bytes: int):
        self.stream = stream
        self.max_meta_bytes = max_meta_bytes
        self.max_name_bytes = max_name_bytes
        self._remaining = 0
        self._padding = 0
        self.headers_read = 0
        self.end_marker = False
        self.trailing_nonzero = 0

    def read(self, n: int) -> bytes:
        if self._remaining <= 0:
            return b""
        data = self.stream.read(min(n, self._remaining))
        if not data:
            raise Stop(
                "tar_truncated",
                f"the tar stream ends inside a member ({self._remaining} bytes missing)",
                **self.stream.position(),
            )
        self._remaining -= len(data)
        return data

    def _skip_rest(self) -> None:
        todo = self._remaining + self._padding
        if todo and self.stream.skip(todo) < todo:
            raise Stop(
                "tar_truncated", "the tar stream ends inside a member", **self.stream.position()
            )
        self._remaining = self._padding = 0

    def _read_meta(self, size: int, what: str) -> bytes:
        if size > self.max_meta_bytes:
            raise Stop(
                "header_too_large",
                f"a {what} header of {size} bytes (more than {self.max_meta_bytes})",
                guard=True,
                **self.stream.position(),
            )
        padded = (size + BLOCK - 1) // BLOCK * BLOCK
        data = self.stream.read_exact(padded)
        if len(data) < padded:
            raise Stop("tar_truncated", f"the tar stream ends inside a {what} header")
        return data[:size]

    def entries(self):
        long_name = long_link = None
        pax: dict[str, str] = {}
        global_pax: dict[str, str] = {}
        while True:
            self._skip_rest()
            block = self.stream.read_exact(BLOCK)
            if not block:
                return  # no end-of-archive marker: reported by the caller via end_marker
            if len(block) < BLOCK:
                raise Stop("tar_truncated", "the tar stream ends inside a header")
            if block == ZERO_BLOCK:
                self.end_marker = True
                self.trailing_nonzero = self.stream.finish()
                return
            if not _checksum_ok(block):
                if self.headers_read == 0:
                    raise Stop("not_tar", "the gzip stream does not hold a tar archive")
                raise Stop(
                    "tar_corrupt",
                    f"tar header #{self.headers_read + 1} has a bad checksum (corrupt archive)",
                    **self.stream.position(),
                )
            self.headers_read += 1
            size = _number(block[124:136])
            if size is None:
                raise Stop("tar_corrupt", "a tar header has an invalid size field")
            typeflag = block[156:157]
            if typeflag in (b"L", b"K", b"x", b"g"):
                data = self._read_meta(size, "long-name" if typeflag in b"LK" else "pax")
                if typeflag == b"L":
                    long_name = data.split(b"\x00", 1)[0]
                elif typeflag == b"K":
                    long_link = data.split(b"\x00", 1)[0]
                else:
                    try:
                        records = parse_pax(data)
                    except ValueError as exc:
                        raise Stop("tar_corrupt", f"malformed pax header: {exc}") from exc
                    (pax if typeflag == b"x" else global_pax).update(records)
                continue
            entry = self._entry(block, size, typeflag, long_name, long_link, {**global_pax, **pax})
            long_name = long_link = None
            pax = {}
            self._remaining = entry.size
            self._padding = (-entry.size) % BLOCK
            yield entry

    def _entry(self, block, size, typeflag, long_name, long_link, pax) -> TarEntry:
        problems = []
        magic = block[257:265]
        raw_name = block[0:100].split(b"\x00", 1)[0]
        if magic == b"ustar\x0000":  # POSIX: the prefix field extends the name
            prefix = block[345:500].split(b"\x00", 1)[0]
            if prefix:
                raw_name = prefix + b"/" + raw_name
        if long_name is not None:
            raw_name = long_name
        raw_link = long_link if long_link is not None else block[157:257].split(b"\x00", 1)[0]
        name, utf8 = _text(raw_name)
        linkname, _ = _text(raw_link)
        if "path" in pax:
            name, utf8 = pax["path"], True
        if "linkpath" in pax:
            linkname = pax["linkpath"]
        if "size" in pax:
            try:
                size = int(pax["size"])
            except ValueError as exc:
                raise Stop("tar_corrupt", "a pax header has an invalid size") from exc
        if not utf8:
            problems.append(("warn", "non_utf8_name", f"member name {name!r} is not UTF-8"))
        problems.extend(check_name(name, self.max_name_bytes))
        kind = _TYPES.get(typeflag)
        if typeflag == b"\x00" and name.endswith("/"):
            kind = DIR  # pre-POSIX (v7) directory, as GNU tar and tarfile read it
        sparse = typeflag == b"S" or any(k.startswith("GNU.sparse.") for k in pax)
        unknown = None
        if sparse:
            kind = FILE
        elif kind is None:
            kind, unknown = FILE, typeflag
        if kind != FILE and typeflag != b"D":
            # Links, directories and special files carry no data whatever their size field
            # says (as GNU tar and tarfile read them); a GNU dump directory's listing is skipped.
            size = 0
        return TarEntry(
            name=name,
            path=normalise(name),
            type=kind,
            size=size,
            linkname=linkname,
            mode=_number(block[100:108]) or 0,
            problems=problems,
            sparse=sparse,
            unknown_type=unknown,
        )
