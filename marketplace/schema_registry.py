"""The loading schema (`schema.yaml`) of the official SDK's `load_dataset` (MDC contract §8):
its format, checked the way the SDK 0.7.0 parses it (plus the typos it would only warn about),
and a generator that writes one from what ingestion learned about an archive: the index file,
its separator, header, columns and their types, which columns hold paths of audio (or other)
members, and the splits where the layout shows them.

Pure functions over plain data: no Django, no storage (services/registry.py reads those)."""

import codecs
import csv
import io
import posixpath
import re
from dataclasses import dataclass
from difflib import get_close_matches

import yaml

STRATEGIES = ("index", "multi_split", "multi_sections", "paired_glob", "glob")
DTYPES = ("string", "file_path", "file_content", "category", "int", "float")
FORMAT_SEP = {"csv": ",", "tsv": "\t", "pipe": "|"}
SUFFIX_SEP = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".psv": "|", ".pipe": "|"}
MAX_YAML_BYTES = 64 * 1024

_STR = "a string"
_BOOL = "true or false"
_STR_LIST = "a list of strings"
TOP_LEVEL = {
    "dataset_id": _STR,
    "task": _STR,
    "format": _STR,
    "index_file": _STR,
    "base_audio_path": "a string or a list of strings",
    "columns": "a mapping",
    "separator": _STR,
    "has_header": _BOOL,
    "encoding": _STR,
    "quoting": _STR,
    "strict": _BOOL,
    "root_strategy": _STR,
    "file_pattern": _STR,
    "audio_extension": _STR,
    "record_path": _STR,
    "splits": _STR_LIST,
    "splits_file_pattern": _STR,
    "sections": _STR_LIST,
    "section_root": _STR,
    "extract_files": _STR_LIST,
    "checksum": _STR,
}
COLUMN_KEYS = {
    "source_column": "a column name or a 0-based position",
    "dtype": _STR,
    "optional": _BOOL,
    "path_match_strategy": _STR,
    "file_extension": _STR,
    "path_template": _STR,
}
# What each strategy's loader refuses to start without.
REQUIRED_BY_STRATEGY = {
    "index": ("index_file",),
    "multi_split": ("splits",),
    "paired_glob": ("file_pattern",),
    "glob": ("file_pattern",),
    "multi_sections": ("sections",),
}
# Logical columns the SDK checks a loaded DataFrame for, per task (a miss only warns there).
TASK_COLUMNS = {"ASR": ("audio_path", "transcription"), "TTS": ("audio_path", "transcription")}
TASK_COLUMNS["LLM"] = ("text",)

SPLIT_NAMES = ("train", "dev", "validation", "valid", "val", "test")
TRANSCRIPT_NAMES = (
    "transcription",
    "transcript",
    "sentence",
    "text",
    "normalized_text",
    "utterance",
    "prompt",
    "raw_text",
)
_TYPE_DTYPE = {"integer": "int", "float": "float", "bool": "category", "text": "string"}


class SchemaInvalid(ValueError):
    """The YAML is not a loading schema the SDK accepts; `errors` says each problem in words."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def _type_ok(value, expected: str) -> bool:
    if expected == _STR:
        return isinstance(value, str)
    if expected == _BOOL:
        return isinstance(value, bool)
    if expected == _STR_LIST:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if expected == "a mapping":
        return isinstance(value, dict)
    if expected.startswith("a string or"):
        return isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        )
    return isinstance(value, str | int) and not isinstance(value, bool)


def _unknown(key, known) -> str:
    hint = get_close_matches(str(key), list(known), n=1)
    return f" (did you mean '{hint[0]}'?)" if hint else ""


def _relative(value: str) -> bool:
    return not value.startswith("/") and ".." not in value.split("/")


def schema_parse(text: str, *, dataset_id: str | None = None) -> dict:
    """The schema in `text` as a dict, or SchemaInvalid listing every problem. Stricter than the
    SDK in one way: an unknown key, which the SDK ignores with a warning, is refused here (in a
    provider's schema it is a typo that silently changes how the data loads)."""
    if len(text.encode()) > MAX_YAML_BYTES:
        raise SchemaInvalid([f"The schema is larger than {MAX_YAML_BYTES // 1024} KiB."])
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SchemaInvalid([f"Not valid YAML{where}: {problem}."]) from exc
    if not isinstance(data, dict):
        raise SchemaInvalid(["The schema must be a YAML mapping of keys (dataset_id: ..., ...)."])
    errors = []
    for key, value in data.items():
        if key not in TOP_LEVEL:
            errors.append(f"Unknown key '{key}'{_unknown(key, TOP_LEVEL)}.")
        elif value is not None and not _type_ok(value, TOP_LEVEL[key]):
            errors.append(f"'{key}' must be {TOP_LEVEL[key]}.")
    if not data.get("dataset_id"):
        errors.append("'dataset_id' is required.")
    elif dataset_id is not None and data["dataset_id"] != dataset_id:
        errors.append(f"'dataset_id' must be this dataset's id, {dataset_id}.")
    strategy = data.get("root_strategy")
    if not strategy:
        errors.append(f"'root_strategy' is required: one of {', '.join(STRATEGIES)}.")
    elif strategy not in STRATEGIES:
        errors.append(f"Unknown root_strategy '{strategy}': one of {', '.join(STRATEGIES)}.")
    else:
        for needed in REQUIRED_BY_STRATEGY[strategy]:
            if not data.get(needed):
                errors.append(f"The '{strategy}' strategy needs '{needed}'.")
    fmt = data.get("format")
    if isinstance(fmt, str) and fmt.casefold() not in FORMAT_SEP:
        errors.append(f"'format' must be one of {', '.join(FORMAT_SEP)}.")
    if data.get("quoting") not in (None, "minimal", "none"):
        errors.append("'quoting' must be minimal or none.")
    if isinstance(data.get("separator"), str) and len(data["separator"]) != 1:
        errors.append("'separator' must be one character (a tab is \"\\t\").")
    if isinstance(data.get("encoding"), str):
        try:
            codecs.lookup(data["encoding"])
        except LookupError:
            errors.append(f"Unknown encoding '{data['encoding']}'.")
    for key in ("index_file", "section_root"):
        if isinstance(data.get(key), str) and not _relative(data[key]):
            errors.append(f"'{key}' must be a path inside the archive (relative, no '..').")
    if isinstance(data.get("columns"), dict):
        errors += _column_errors(data["columns"])
    if errors:
        raise SchemaInvalid(errors)
    return data


def _column_errors(columns: dict) -> list[str]:
    errors = []
    for name, mapping in columns.items():
        where = f"Column '{name}'"
        if not isinstance(mapping, dict):
            errors.append(f"{where} must be a mapping with at least source_column.")
            continue
        for key, value in mapping.items():
            if key not in COLUMN_KEYS:
                errors.append(f"{where}: unknown key '{key}'{_unknown(key, COLUMN_KEYS)}.")
            elif value is not None and not _type_ok(value, COLUMN_KEYS[key]):
                errors.append(f"{where}: '{key}' must be {COLUMN_KEYS[key]}.")
        if "source_column" not in mapping:
            errors.append(f"{where}: 'source_column' is required.")
        if mapping.get("dtype", "string") not in DTYPES:
            errors.append(f"{where}: 'dtype' must be one of {', '.join(DTYPES)}.")
        if mapping.get("path_match_strategy", "direct") not in ("direct", "exact", "contains"):
            errors.append(f"{where}: 'path_match_strategy' must be direct, exact or contains.")
    return errors


def schema_dump(schema: dict) -> str:
    return yaml.safe_dump(schema, sort_keys=False, allow_unicode=True, default_flow_style=False)


# --- generation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A delimited member of the archive as ingestion saw it, with the first lines of its text."""

    path: str
    kind: str  # "tsv" or "csv"
    columns: list[dict]  # [{"name", "type"}] from the ingestion statistics
    head: str  # the member's first bytes, decoded


def separator_of(table: Table) -> str:
    if table.kind == "tsv":
        return "\t"
    first = table.head.split("\n", 1)[0]
    counts = {sep: first.count(sep) for sep in (",", ";", "|")}
    return max(counts, key=counts.get) if any(counts.values()) else ","


def head_rows(text: str, sep: str, *, complete: bool, quoting: str | None = None) -> list[list]:
    """Rows of the first lines of a delimited file; the last line is dropped unless `complete`
    (the head was cut in the middle of it)."""
    if not complete:
        text = text[: text.rfind("\n") + 1] if "\n" in text else ""
    quoting = quoting or ("none" if sep == "\t" else "minimal")
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=sep,
        quoting=csv.QUOTE_NONE if quoting == "none" else csv.QUOTE_MINIMAL,
        skipinitialspace=True,
    )
    return [row for row in reader if row and any(cell.strip() for cell in row)]


def _path_base(values: list[str], directory: str, members: set[str]) -> tuple[str, str] | None:
    """Where the values of a column point: ("" or the index's directory, the file extension to
    add or ""), when most of them name members of the archive."""
    values = [v.strip() for v in values if v and v.strip()]
    if not values:
        return None
    suffixes = {posixpath.splitext(m)[1] for m in members} - {""}
    for base in dict.fromkeys([directory, ""]):
        for ext in ("", *sorted(suffixes)):
            hits = sum(
                1
                for v in values
                if posixpath.normpath(
                    posixpath.join(base, v + (ext if not posixpath.splitext(v)[1] else ""))
                )
                in members
            )
            if hits * 2 > len(values):
                return base, ext
    return None


def _logical(name: str) -> str:
    return re.sub(r"\s+", "_", name.strip()) or "column"


def _columns_for(
    table: Table, rows: list[list[str]], has_header: bool, task: str, members: set[str]
) -> tuple[dict, str | None]:
    """The column mappings of one table and the base_audio_path they need."""
    directory = posixpath.dirname(table.path)
    data = rows[1:] if has_header else rows
    out: dict[str, dict] = {}
    base_audio = None
    transcript_taken = False
    typed = [(i, c["name"], c.get("type", "text")) for i, c in enumerate(table.columns)]
    # The transcription: a text column named like one, else the first plain text column.
    text_cols = [(i, n) for i, n, t in typed if t == "text"]
    path_cols = {}
    for i, _name in text_cols:
        found = _path_base([r[i] for r in data if i < len(r)], directory, members)
        if found:
            path_cols[i] = found
    named = [
        i for i, n in text_cols if i not in path_cols and n.strip().casefold() in TRANSCRIPT_NAMES
    ]
    plain = [i for i, _ in text_cols if i not in path_cols]
    transcript = named[0] if named else (plain[0] if plain else None)
    first_path = min(path_cols) if path_cols else None
    for i, name, kind in typed:
        source = name if has_header else i
        mapping: dict = {"source_column": source, "dtype": _TYPE_DTYPE.get(kind, "string")}
        logical = _logical(name)
        if i in path_cols:
            base, ext = path_cols[i]
            mapping["dtype"] = "file_path"
            if ext:
                mapping["file_extension"] = ext
            if base and base_audio is None:
                base_audio = base + "/"
            if i == first_path and task in ("ASR", "TTS"):
                logical = "audio_path"
        elif i == transcript and not transcript_taken:
            transcript_taken = True
            if task in ("ASR", "TTS"):
                logical = "transcription"
            elif task == "LLM":
                logical = "text"
        while logical in out:
            logical += "_"
        out[logical] = mapping
    return out, base_audio


def schema_generate(
    *, dataset_id: str, task: str, tables: list[Table], members: set[str]
) -> tuple[dict | None, str]:
    """A loading schema for an archive, or None and the reason there is none. `tables` are the
    delimited members (the index file candidates), `members` every member path."""
    if not tables:
        return None, "The archive has no TSV or CSV index file that load_dataset could read."
    task = (task or "").upper()
    by_stem: dict[str, list[Table]] = {}
    for t in tables:
        by_stem.setdefault(posixpath.splitext(posixpath.basename(t.path))[0].casefold(), []).append(
            t
        )
    splits = [s for s in SPLIT_NAMES if len(by_stem.get(s, [])) == 1]
    chosen: list[Table]
    if len(splits) >= 2 and len({by_stem[s][0].kind for s in splits}) == 1:
        chosen = [by_stem[s][0] for s in splits]
    else:
        splits = []
        chosen = [_best_index(tables, members)]
    table = chosen[0]
    sep = separator_of(table)
    rows = head_rows(table.head, sep, complete=True)
    if not rows or not table.columns:
        return None, f"{table.path}: no rows to describe."
    has_header = [c.strip() for c in rows[0]] == [c["name"] for c in table.columns]
    columns, base_audio = _columns_for(table, rows, has_header, task, members)
    schema: dict = {"dataset_id": dataset_id}
    if task:
        schema["task"] = task
    if splits:
        schema["root_strategy"] = "multi_split"
        schema["splits"] = [posixpath.splitext(posixpath.basename(t.path))[0] for t in chosen]
        schema["splits_file_pattern"] = f"**/*{posixpath.splitext(table.path)[1]}"
    else:
        schema["root_strategy"] = "index"
        schema["index_file"] = table.path
    schema["format"] = {"\t": "tsv", ",": "csv", "|": "pipe"}.get(sep, "csv")
    if sep not in FORMAT_SEP.values() or schema["format"] == "csv" and sep != ",":
        schema["separator"] = sep
    schema["has_header"] = has_header
    if base_audio:
        schema["base_audio_path"] = base_audio
    schema["columns"] = columns
    return schema, ""


def _best_index(tables: list[Table], members: set[str]) -> Table:
    """The table whose rows point at the most members (an index of clips), then the shallowest."""

    def score(t: Table):
        sep = separator_of(t)
        rows = head_rows(t.head, sep, complete=True)
        directory = posixpath.dirname(t.path)
        pointing = sum(
            1
            for i in range(len(t.columns))
            if _path_base([r[i] for r in rows[1:] if i < len(r)], directory, members)
        )
        return (-pointing, t.path.count("/"), t.path)

    return min(tables, key=score)
