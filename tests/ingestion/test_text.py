"""Text analyzers see member data in arbitrary pieces: the findings must not depend on where
the pieces are cut (lines, quoted CSV fields and UTF-8 sequences across chunk boundaries)."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.ingestion.jsonl import JsonlAnalyzer
from marketplace.ingestion.limits import Limits
from marketplace.ingestion.report import Findings, MemberInfo
from marketplace.ingestion.sniff import sniff
from marketplace.ingestion.text import DelimitedAnalyzer, TextAnalyzer, infer_type

TSV = "h1\th2\th3\n1\tä\t2.5\n2\tb\n3\tc\t4\t5\n\n4\tdé\t6\n".encode()
CSV = b'name,note,n\na,"x, y",1\nb,"two\nlines",2\nc,bad\nd,"e ""q""",4\n'
JSONL = b'{"a": 1}\n{"a": "\xc3\xa9"}\nnope\n{"a": [1,\n\n{"b": true}\n'


def run(analyzer_cls, data: bytes, cuts: list[int], **kw):
    member = MemberInfo(path="m", size=len(data))
    findings = Findings(50)
    analyzer = analyzer_cls(member, findings, Limits(), **kw)
    seen = []
    analyzer.listeners.append(lambda buf, s, e, line: seen.append((line, buf[s:e])))
    last = 0
    for cut in [*sorted(cuts), len(data)]:
        analyzer.feed(data[last:cut])
        last = cut
    analyzer.finish()
    # listeners get every byte once, as whole lines, with the right first line number
    joined = b"".join(part for _, part in seen)
    assert joined.rstrip(b"\n") == data.removeprefix(b"\xef\xbb\xbf").rstrip(b"\n")
    offset_lines = 0
    for line, part in seen:
        assert line == offset_lines + 1
        offset_lines += part.count(b"\n")
    return member, json.loads(json.dumps(findings.as_details()))


cuts = st.lists(st.integers(min_value=0, max_value=80), max_size=12)


@settings(max_examples=150, deadline=None)
@given(cuts)
def test_tsv_findings_do_not_depend_on_chunking(points):
    member, found = run(DelimitedAnalyzer, TSV, [p % len(TSV) for p in points], kind="tsv")
    reference = run(DelimitedAnalyzer, TSV, [], kind="tsv")[1]
    assert found == reference
    by_code = {f["code"]: f for f in found["findings"]}
    assert by_code["ragged_rows"]["rows"] == [[3, 2], [4, 4]]
    assert by_code["blank_lines"]["lines"] == [5]
    assert member.rows == 4 and member.has_header


@settings(max_examples=150, deadline=None)
@given(cuts)
def test_csv_quoted_newlines_across_chunks(points):
    member, found = run(DelimitedAnalyzer, CSV, [p % len(CSV) for p in points], kind="csv")
    [finding] = found["findings"]
    assert finding["code"] == "ragged_rows" and finding["rows"] == [[5, 2]]
    assert member.rows == 4 and [c.name for c in member.columns] == ["name", "note", "n"]


@settings(max_examples=150, deadline=None)
@given(cuts)
def test_jsonl_findings_do_not_depend_on_chunking(points):
    member, found = run(JsonlAnalyzer, JSONL, [p % len(JSONL) for p in points])
    by_code = {f["code"]: f for f in found["findings"]}
    assert [line for line, _ in by_code["malformed_jsonl"]["lines"]] == [3, 4]
    assert by_code["blank_lines"]["lines"] == [5]
    assert member.rows == 3


@settings(max_examples=100, deadline=None)
@given(cuts)
def test_utf8_sequences_split_between_chunks_are_valid(points):
    data = ("ünïcødé " * 20 + "\n").encode() * 3
    _, found = run(TextAnalyzer, data, [p % len(data) for p in points])
    assert found["findings"] == []


def test_bom_and_crlf():
    data = b"\xef\xbb\xbfa\tb\r\n1\t2\r\n3\t4\r\n"
    member, found = run(DelimitedAnalyzer, data, [1, 5], kind="tsv")
    assert found["findings"] == [] and member.columns[0].name == "a" and member.rows == 2


def test_long_lines_are_skipped_and_reported():
    member = MemberInfo(path="m", size=0)
    findings = Findings(50)
    analyzer = TextAnalyzer(member, findings, Limits(max_line_bytes=1000))
    analyzer.feed(b"short\n" + b"x" * 600)
    analyzer.feed(b"y" * 600)
    analyzer.feed(b"z\nafter\n")
    analyzer.finish()
    [finding] = findings.items
    assert finding["code"] == "line_too_long" and finding["lines"] == [2]
    assert analyzer.lines == 3


def test_type_inference():
    assert infer_type(["1", "-2", ""]) == "integer"
    assert infer_type(["1", "2.5e3"]) == "float"
    assert infer_type(["true", "False"]) == "bool"
    assert infer_type(["1", "x"]) == "text"
    assert infer_type([]) == "text"


def test_sniffing_by_content_not_name():
    assert sniff(b"a\tb\n1\t2\n", complete=True, path="x.txt") == "tsv"
    assert sniff(b"a,b\n1,2\n3,4\n", complete=True, path="x") == "csv"
    assert sniff(b"Hello, world.\nBye, now.\n", complete=True, path="notes.txt") == "text"
    assert sniff(b'{"a": 1}\n{"a": 2}\n', complete=True, path="x.json") == "jsonl"
    assert sniff(b'{\n  "a": 1\n}\n', complete=True, path="x.jsonl") == "json"
    assert sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ", complete=False, path="x.mp3") == "wav"
    assert sniff(b"\x00\x01\x02binary", complete=True, path="x.tsv") == "binary"
    assert sniff(b"", complete=True) == "empty"
