"""inspect_archive(): one sequential pass over a stored .tar.gz that verifies, walks, checks and
describes it. The stream is read once, front to back (no seek, no tell), and neither the archive
nor a whole member is ever held in memory or written to disk.

Per byte of the stored object: SHA-256 and count (integrity), gzip decompression with the bomb
guards. Per tar entry: path/link/type safety. Per regular file: SHA-256 (manifest), content
sniffing, then streaming to its format analyzer, to the personal-data scanner (text members) and
to clamd (when configured). A crash in an analyzer becomes an `error` finding for that member;
only a failure to read the stream itself (InputStreamError) leaves this function.

Three threads share the work (Limits.decompress_in_thread, Limits.offload_min_member_bytes):
reading and decompressing (gzstream), the walk with its format checks (here), and the members'
SHA-256 and personal-data scans (memberwork, through offload); the stored bytes are hashed on
the walk's thread. The report is the same as a single-threaded run's."""

from collections.abc import Callable, Collection, Container

from marketplace.ingestion.clamd import ClamdClient, ClamdError, ClamdStream
from marketplace.ingestion.gzstream import ArchiveStream, SourceReader, Stop
from marketplace.ingestion.jsonl import JsonDocumentAnalyzer, JsonlAnalyzer
from marketplace.ingestion.limits import Limits
from marketplace.ingestion.media import AudioAnalyzer, ImageAnalyzer
from marketplace.ingestion.memberwork import MemberWork
from marketplace.ingestion.offload import Offload
from marketplace.ingestion.parquet import ParquetAnalyzer
from marketplace.ingestion.pii import PiiCounter, PiiScanner
from marketplace.ingestion.report import (
    Findings,
    InputStreamError,
    InspectionReport,
    MemberInfo,
    Status,
)
from marketplace.ingestion.sniff import (
    AUDIO_KINDS,
    COMPATIBLE,
    IMAGE_KINDS,
    MIME,
    SNIFF_BYTES,
    TEXT_KINDS,
    extension_kind,
    sniff,
)
from marketplace.ingestion.summary import build_report
from marketplace.ingestion.tarstream import (
    BLOCKDEV,
    CHARDEV,
    DIR,
    FIFO,
    FILE,
    HARDLINK,
    SYMLINK,
    TarEntry,
    TarReader,
    link_escapes,
)
from marketplace.ingestion.text import DelimitedAnalyzer, TextAnalyzer

KnownHashes = Container[str] | Callable[[list[str]], Collection[str]]


def inspect_archive(
    stream,
    *,
    declared_sha256: str | None = None,
    declared_size: int | None = None,
    limits: Limits | None = None,
    pii_policy: str = "warn",
    clamd: ClamdClient | None = None,
    known_member_hashes: KnownHashes | None = None,
) -> InspectionReport:
    """Inspect the .tar.gz readable from `stream` (any object with read(n) -> bytes, e.g. a boto3
    StreamingBody). `pii_policy` "fail" turns personal-data findings into failures (the
    datasheet says there is none). `known_member_hashes`: SHA-256 hex digests of members of
    other published versions, as a container (`in`) or as a callable that receives the list of
    this archive's distinct member digests and returns those it knows (one batched lookup).

    Raises InputStreamError when reading `stream` fails: retry later."""
    if pii_policy not in ("warn", "fail"):
        raise ValueError("pii_policy must be 'warn' or 'fail'")
    run = _Walk(limits or Limits(), clamd)
    source = SourceReader(stream)
    try:
        run.archive = ArchiveStream(source, run.limits)
        run.walk(run.archive)
    except Stop as stop:
        run.stop = stop
    finally:
        if run.archive is not None:
            run.archive.close()
        run.offload.close()
    run.offload.check()
    for scanner, exc in run.pii_crashes:
        run._crashed(run.pii_findings, scanner.member, scanner, exc)
    if run.stop is None or (not run.stop.guard and run.limits.drain_after_error):
        source.drain()  # the rest of the stored bytes, for the archive checksum
    return build_report(
        run,
        source,
        declared_sha256=declared_sha256,
        declared_size=declared_size,
        pii_policy=pii_policy,
        known_member_hashes=known_member_hashes,
    )


class _Walk:
    """State of one inspection; summary.build_report turns it into check results."""

    def __init__(self, limits: Limits, clamd: ClamdClient | None):
        self.limits = limits
        self.clamd = clamd
        self.clamd_error: str | None = None
        self.archive: ArchiveStream | None = None
        self.stop: Stop | None = None
        self.current: str | None = None
        cap = limits.max_findings_per_check
        self.member_status: dict[str, Status] = {}
        self.safety = Findings(cap, self.member_status)
        self.formats = Findings(cap, self.member_status)
        self.malware = Findings(cap, self.member_status)
        self.pii = PiiCounter(limits.pii_examples_per_kind)
        self.pii_findings = Findings(cap, self.member_status)
        self.pii_scanned = 0
        self.pii_text_bytes = 0
        self.pii_sampled_members = 0
        self.pii_crashes: list[tuple[PiiScanner, Exception]] = []
        """Reported once the offload thread is done (findings belong to the walk's thread)."""
        self.offload = Offload()
        self.members: list[MemberInfo] = []
        self.entries = 0
        self.counts = {DIR: 0, SYMLINK: 0}
        self.seen: dict[str, str] = {}
        self.symlinks: set[str] = set()
        self.parents: set[str] = set()
        self.scanned_clean = 0
        self.partially_scanned: list[str] = []
        self.partially_scanned_count = 0
        self.end_marker = True
        self.trailing_nonzero = 0

    # --- tar entries ---
    def walk(self, archive: ArchiveStream) -> None:
        lim = self.limits
        tar = TarReader(
            archive,
            max_meta_bytes=lim.max_meta_header_bytes,
            max_name_bytes=lim.max_member_name_bytes,
        )
        for entry in tar.entries():
            self.entries += 1
            if self.entries > lim.max_members:
                raise Stop(
                    "member_count_exceeded",
                    f"more than {lim.max_members} entries in the archive",
                    guard=True,
                    **archive.position(),
                )
            self._check_entry(entry)
            if entry.type == FILE and not entry.sparse and entry.unknown_type is None:
                if archive.uncompressed + entry.size > lim.max_total_uncompressed:
                    raise Stop(
                        "total_size_exceeded",
                        f"member {entry.path!r} declares {entry.size} bytes: the archive would "
                        f"expand beyond {lim.max_total_uncompressed} bytes",
                        guard=True,
                        **archive.position(),
                    )
                self.current = entry.path
                self._member(entry, tar)
                self.current = None
        self.end_marker = tar.end_marker
        self.trailing_nonzero = tar.trailing_nonzero

    def _check_entry(self, e: TarEntry) -> None:
        add = self.safety.add
        for severity, code, message in e.problems:
            add(Status(severity), code, message, member=e.path)
        if not e.path and e.type != DIR:
            add(Status.FAIL, "empty_name", "a member has an empty name", member=e.name)
        kind = e.type
        if e.sparse:
            add(
                Status.FAIL, "sparse_file", f"sparse file {e.name!r} is not accepted", member=e.path
            )
        elif e.unknown_type is not None:
            add(
                Status.FAIL,
                "unsupported_type",
                f"member {e.name!r} has unsupported tar type {e.unknown_type!r}",
                member=e.path,
            )
        elif kind == HARDLINK:
            # Refused outright: a hard link's data lives in another member, extractors differ
            # in how they resolve the target (the classic way out of the extraction directory),
            # and a dataset archive never needs one.
            add(
                Status.FAIL,
                "hardlink",
                f"hard link {e.name!r} -> {e.linkname!r}: hard links are not accepted "
                "(re-create the archive with tar --hard-dereference)",
                member=e.path,
            )
        elif kind == SYMLINK:
            self.counts[SYMLINK] += 1
            if link_escapes(e.path, e.linkname):
                add(
                    Status.FAIL,
                    "link_escape",
                    f"symlink {e.name!r} -> {e.linkname!r} points outside the archive",
                    member=e.path,
                )
            self.symlinks.add(e.path)
            if e.path in self.parents:
                add(
                    Status.FAIL,
                    "symlink_over_directory",
                    f"symlink {e.name!r} replaces a directory that holds other members",
                    member=e.path,
                )
        elif kind in (CHARDEV, BLOCKDEV):
            add(Status.FAIL, "device_file", f"{kind} {e.name!r} is not accepted", member=e.path)
        elif kind == FIFO:
            add(Status.FAIL, "fifo", f"FIFO {e.name!r} is not accepted", member=e.path)
        elif kind == DIR:
            self.counts[DIR] += 1
        if not e.path:
            return
        previous = self.seen.get(e.path)
        if previous is not None and not (previous == DIR and kind == DIR):
            add(
                Status.FAIL,
                "duplicate_name",
                f"member name {e.path!r} appears more than once",
                member=e.path,
            )
        self.seen[e.path] = kind
        parts = e.path.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in self.symlinks:
                add(
                    Status.FAIL,
                    "path_through_symlink",
                    f"member {e.name!r} lies under symlink {prefix!r}",
                    member=e.path,
                )
                break
        for i in range(1, len(parts)):
            self.parents.add("/".join(parts[:i]))

    # --- regular files ---
    def _member(self, entry: TarEntry, tar: TarReader) -> None:
        lim = self.limits
        m = MemberInfo(path=entry.path, size=entry.size)
        big = lim.offload_min_member_bytes
        self.offload.member(threaded=big is not None and entry.size >= big)
        call = self.offload.call
        head_parts, got = [], 0
        want = min(SNIFF_BYTES, entry.size)
        while got < want:
            part = tar.read(want - got)
            head_parts.append(part)
            got += len(part)
        head = b"".join(head_parts)
        m.kind = sniff(head, complete=entry.size <= len(head), path=entry.path)
        m.mime = MIME[m.kind]
        self._extension(m)
        work = MemberWork(self, m)
        consumers = self._consumers(m, entry.size, work)
        call(work.start)
        scan = None
        if self.clamd is not None and self.clamd_error is None:
            scan = ClamdStream(self.clamd)
        try:
            chunk = head
            while chunk:
                for consumer in list(consumers):
                    self._call(consumers, consumer, "feed", chunk)
                call(work.block, chunk, work.take())
                if scan is not None:
                    scan = self._clamd_send(scan, chunk, m)
                chunk = tar.read(lim.read_chunk_bytes)
            for consumer in list(consumers):
                self._call(consumers, consumer, "finish")
            call(work.end, work.take())
            if scan is not None:
                self._clamd_finish(scan, m)
        finally:
            if scan is not None:
                scan.close()
        self.members.append(m)

    def _extension(self, m: MemberInfo) -> None:
        claimed = extension_kind(m.path)
        if (
            claimed
            and m.kind not in ("empty",)
            and m.kind not in COMPATIBLE.get(claimed, {claimed})
        ):
            self.formats.add(
                Status.WARN,
                "extension_mismatch",
                f"{m.path}: the name says {claimed} but the content is {m.kind}",
                member=m.path,
            )

    def _consumers(self, m: MemberInfo, size: int, work: MemberWork) -> list:
        """The consumers fed with the member's bytes. Text members are also scanned for
        personal data (by `work`, through the offload): from the text analyzer's ranges of
        whole lines when there is one, else from the raw bytes."""
        lim, kind = self.limits, m.kind
        analyzer = None
        if kind in ("tsv", "csv"):
            analyzer = DelimitedAnalyzer(m, self.formats, lim, kind=kind)
        elif kind == "jsonl":
            analyzer = JsonlAnalyzer(m, self.formats, lim)
        elif kind == "json":
            analyzer = JsonDocumentAnalyzer(m, self.formats, lim)
        elif kind == "text":
            analyzer = TextAnalyzer(m, self.formats, lim)
        elif kind == "parquet":
            analyzer = ParquetAnalyzer(m, self.formats, lim)
        elif kind in AUDIO_KINDS:
            analyzer = AudioAnalyzer(m, self.formats, lim)
        elif kind in IMAGE_KINDS:
            analyzer = ImageAnalyzer(m, self.formats, lim)
        consumers = [analyzer] if analyzer is not None else []
        if kind in TEXT_KINDS:
            self.pii_text_bytes += size
            work.scan = True
            work.raw = not isinstance(analyzer, TextAnalyzer)
            if not work.raw:
                analyzer.listeners.append(work.lines)
        return consumers

    def _call(self, consumers: list, consumer, method: str, *args) -> None:
        try:
            getattr(consumer, method)(*args)
        except (InputStreamError, Stop):
            raise
        except Exception as exc:  # a parser bug or a hostile input it did not expect
            consumers.remove(consumer)
            self._crashed(self.formats, consumer.member.path, consumer, exc)

    def _crashed(self, findings: Findings, path: str, consumer, exc: Exception) -> None:
        findings.add(
            Status.ERROR,
            "inspection_error",
            f"{path}: {type(consumer).__name__} crashed ({type(exc).__name__}: {str(exc)[:200]})",
            member=path,
        )

    # --- clamd ---
    def _clamd_send(self, scan: ClamdStream, chunk: bytes, m: MemberInfo) -> ClamdStream | None:
        try:
            scan.send(chunk)
            return scan
        except ClamdError as exc:
            self._clamd_failed(exc, m)
            scan.close()
            return None

    def _clamd_finish(self, scan: ClamdStream, m: MemberInfo) -> None:
        try:
            result = scan.finish()
        except ClamdError as exc:
            self._clamd_failed(exc, m)
            return
        if result.infected:
            self.malware.add(
                Status.FAIL,
                "malware",
                f"{m.path}: {result.signature}",
                member=m.path,
                signature=result.signature,
            )
        else:
            self.scanned_clean += 1
        if result.truncated:
            self.partially_scanned_count += 1
            if len(self.partially_scanned) < self.limits.max_findings_per_check:
                self.partially_scanned.append(m.path)

    def _clamd_failed(self, exc: ClamdError, m: MemberInfo) -> None:
        # One failure disables clamd for the rest of the run: a dead daemon would otherwise
        # cost a connection timeout per member.
        # The error names the scanner's address: kept for staff (summary.py), not in findings.
        self.clamd_error = str(exc)
        self.malware.add(
            Status.ERROR,
            "clamd_error",
            f"{m.path}: not scanned (the malware scanner failed)",
            member=m.path,
        )
