"""The part of a member's inspection that runs through the walk's offload (offload.py): its
SHA-256 and its personal-data scan, handed over in one call per block of member data.

The walk's thread feeds the format analyzers first; the text analyzer's ranges of whole lines
collect here (`lines`) and go along with the block they came from. The calls run in order, so
the personal-data budget (what the members before have spent) is read when a scan starts,
exactly as in a sequential run."""

import hashlib

from marketplace.ingestion.pii import PiiScanner
from marketplace.ingestion.report import MemberInfo


class MemberWork:
    """Digest and personal-data scan of one member. `walk` holds the archive-wide scan state
    (`limits`, `pii`, `pii_scanned`, `pii_sampled_members`, `pii_crashes`), which only these
    calls change while the walk runs. A scanner crash ends this member's scan (not its format
    checks) and is kept in `walk.pii_crashes` for the walk's thread to report."""

    def __init__(self, walk, member: MemberInfo):
        self.walk = walk
        self.member = member
        self.sha = hashlib.sha256()
        self.scan = False
        self.raw = False
        """Scanned from the raw bytes (no text analyzer hands over lines)."""
        self.scanner: PiiScanner | None = None
        self.ok = True
        self._ranges: list[tuple] = []

    # --- the walk's thread ---
    def lines(self, buf: bytes, start: int, end: int, first_line: int) -> None:
        """A text analyzer listener: buf[start:end] holds whole lines."""
        self._ranges.append((buf, start, end, first_line))

    def take(self) -> list[tuple]:
        ranges, self._ranges = self._ranges, []
        return ranges

    # --- the offload, in order ---
    def start(self) -> None:
        if not self.scan:
            return
        walk, lim = self.walk, self.walk.limits
        left = lim.pii_scan_total_bytes - walk.pii_scanned
        budget = min(lim.pii_scan_bytes_per_member, max(left, lim.pii_min_sample_bytes))
        if budget > 0:
            self.scanner = PiiScanner(self.member.path, self.member.size, budget, walk.pii)
            walk.pii_sampled_members += self.scanner.sampled

    def block(self, chunk: bytes, ranges: list[tuple]) -> None:
        self.sha.update(chunk)
        if self.scanner is None:
            return
        if self.raw:
            if self.ok:
                self._guard(self.scanner.feed, chunk)
            return
        for buf, start, end, first_line in ranges:
            if not self.ok:
                return
            self._guard(self.scanner.lines, buf, start, end, first_line)

    def end(self, ranges: list[tuple]) -> None:
        self.member.sha256 = self.sha.hexdigest()
        if self.scanner is None:
            return
        for buf, start, end, first_line in ranges:  # the last line, handed over at finish
            if self.ok:
                self._guard(self.scanner.lines, buf, start, end, first_line)
        self._guard(self.scanner.finish)  # also after a crash: what was found still counts
        self.walk.pii_scanned += self.scanner.scanned

    def _guard(self, method, *args) -> None:
        try:
            method(*args)
        except Exception as exc:  # a scanner bug must not stop the walk
            self.ok = False
            self.walk.pii_crashes.append((self.scanner, exc))
