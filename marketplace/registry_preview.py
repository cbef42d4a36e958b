"""The first rows of a dataset as the SDK's `load_dataset` would load them with a schema, from
the head of the index file and the archive's member list: the SDK's column resolution (exact,
then tolerant of case, spaces and a BOM unless `strict`), its dtypes, and its file-path
resolution (base_audio_path roots, file_extension, path_template, the direct / exact / contains
strategies) against the members ingestion listed. Pure: services/registry.py reads the archive."""

import fnmatch
import posixpath
import re
from dataclasses import dataclass, field

from marketplace.schema_registry import FORMAT_SEP, SUFFIX_SEP, head_rows

PREVIEW_ROWS = 10


@dataclass
class Preview:
    source: str = ""  # the member the rows come from
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def index_paths(schema: dict, members: set[str]) -> list[str]:
    """The member(s) the SDK would read: the index file (its literal path, else the shallowest
    member ending with it), or the split files of a multi_split schema."""
    strategy = schema.get("root_strategy")
    if strategy == "index":
        wanted = schema.get("index_file") or ""
        if wanted in members:
            return [wanted]
        if schema.get("strict"):
            return []
        found = sorted(
            (m for m in members if m.endswith("/" + wanted)), key=lambda m: (m.count("/"), m)
        )
        return found[:1]
    if strategy == "multi_split":
        pattern = schema.get("splits_file_pattern") or "**/*.tsv"
        short = pattern.removeprefix("**/")
        allowed = set(schema.get("splits") or [])
        best: dict[str, str] = {}
        for m in sorted(members, key=lambda m: (m.count("/"), m)):
            stem = posixpath.splitext(posixpath.basename(m))[0]
            if (
                stem in allowed
                and stem not in best
                and (fnmatch.fnmatch(m, pattern) or fnmatch.fnmatch(posixpath.basename(m), short))
            ):
                best[stem] = m
        return [best[s] for s in sorted(best)]
    return []


def _separator(schema: dict, path: str) -> str | None:
    if schema.get("separator"):
        return schema["separator"]
    if schema.get("format"):
        return FORMAT_SEP.get(schema["format"].casefold())
    return SUFFIX_SEP.get(posixpath.splitext(path)[1].casefold())


def _norm(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").strip().split()).casefold()


def _resolve_column(names: list, source, strict: bool):
    if source in names:
        return names.index(source)
    if isinstance(source, int) or strict:
        return None
    matches = [i for i, n in enumerate(names) if isinstance(n, str) and _norm(n) == _norm(source)]
    return matches[0] if len(matches) == 1 else None


class _Paths:
    """file_path resolution against the archive's members, rooted like the SDK: base_audio_path
    entries are relative to the dataset root (the directory above the index file's path)."""

    def __init__(self, schema: dict, members: set[str], root: str):
        self.schema, self.members, self.root = schema, members, root
        bases = schema.get("base_audio_path") or []
        self.bases = [bases] if isinstance(bases, str) else list(bases)

    def _roots(self, row: dict, value: str) -> list[str]:
        roots = []
        for base in self.bases:
            base = _render(base, row, value) if "${" in base else base
            root = posixpath.normpath(posixpath.join(self.root, base)) if base else self.root
            roots.append("" if root == "." else root)
        return roots or [self.root]

    def resolve(self, value: str, mapping: dict, row: dict) -> tuple[str, bool]:
        raw = value.strip()
        if mapping.get("path_template"):
            raw = _render(mapping["path_template"], row, raw)
        if not raw:
            return raw, True
        ext = mapping.get("file_extension") or ""
        ext = ext if not ext or ext.startswith(".") else "." + ext
        names = [raw] + ([raw + ext] if ext and not posixpath.splitext(raw)[1] else [])
        roots = self._roots(row, raw)
        candidates = []
        for name in names:
            for root in [*roots, self.root, ""]:
                path = posixpath.normpath(posixpath.join(root, name))
                if path not in candidates:
                    candidates.append(path)
        for path in candidates:
            if path in self.members:
                return path, True
        strategy = mapping.get("path_match_strategy", "direct")
        if strategy != "direct":
            under = [m for m in self.members if any(m.startswith(r + "/") or not r for r in roots)]
            needle = raw.casefold()
            if strategy == "exact":
                hits = [m for m in under if posixpath.basename(m) in names]
            else:
                hits = [m for m in under if needle in m.casefold()]
            if len(hits) == 1:
                return hits[0], True
        return candidates[0], False


def _render(template: str, row: dict, value: str) -> str:
    def replace(match):
        key = match.group(1).strip()
        if key == "value":
            return value
        return str(row.get(key, "")).strip()

    return re.sub(r"\$\{([^}]+)\}", replace, template)


def _convert(value: str, dtype: str) -> tuple[str, bool]:
    if dtype in ("int", "float") and value.strip():
        try:
            number = float(value)
        except ValueError:
            return "", False
        if dtype == "int":  # the SDK casts to Int64, which refuses a fractional value
            return (str(int(number)), True) if number.is_integer() else ("", False)
        return str(number), True
    return value, True


def schema_preview(schema: dict, heads: dict[str, str], members: set[str]) -> Preview:
    """Up to PREVIEW_ROWS rows of what `load_dataset` returns with `schema`, from `heads` (the
    first whole lines of the members `index_paths` names)."""
    out = Preview()
    strategy = schema.get("root_strategy")
    if strategy not in ("index", "multi_split"):
        out.notes.append(
            f"No preview for the '{strategy}' strategy here: the SDK loads it from the extracted "
            "files; the schema itself is valid."
        )
        return out
    paths = index_paths(schema, members)
    if not paths:
        what = schema.get("index_file") or schema.get("splits_file_pattern") or "**/*.tsv"
        out.problems.append(f"No member of the archive matches '{what}'.")
        return out
    path = paths[0]
    out.source = path
    if path not in heads:
        out.problems.append(f"{path}: its first rows could not be read from the archive.")
        return out
    sep = _separator(schema, path)
    if sep is None:
        out.problems.append(f"{path}: set 'format' or 'separator' (the name does not say it).")
        return out
    rows = head_rows(heads[path], sep, complete=True, quoting=schema.get("quoting"))
    has_header = schema.get("has_header", True)
    if has_header and rows:
        names: list = [c.replace("\ufeff", "").strip() for c in rows[0]]
        rows = rows[1:]
    else:
        names = list(range(max((len(r) for r in rows), default=0)))
    rows = rows[:PREVIEW_ROWS]
    records = [dict(zip(names, r, strict=False)) for r in rows]
    split = posixpath.splitext(posixpath.basename(path))[0]
    if strategy == "multi_split":
        names = [*names, "split"]
        records = [{**r, "split": split} for r in records]
    mappings = schema.get("columns") or {}
    if not mappings:
        out.columns = [str(n) for n in names]
        out.rows = [[str(r.get(n, "")) for n in names] for r in records]
        return out
    # The SDK's dataset root: for an index file, the directory its path is relative to; for
    # split files, the top of the extracted archive.
    root = ""
    if strategy == "index":
        root = posixpath.dirname(path)
        for _ in range(len([p for p in schema["index_file"].split("/") if p]) - 1):
            root = posixpath.dirname(root)
    resolver = _Paths(schema, members, root)
    strict = bool(schema.get("strict"))
    chosen = []
    for logical, mapping in mappings.items():
        at = _resolve_column(names, mapping.get("source_column"), strict)
        if at is None:
            if not mapping.get("optional"):
                out.problems.append(
                    f"Column '{logical}': required source column "
                    f"'{mapping.get('source_column')}' is not in {path} "
                    f"(it has {', '.join(str(n) for n in names)})."
                )
            continue
        chosen.append((logical, names[at], mapping))
    out.columns = [logical for logical, _, _ in chosen] + (
        ["split"] if strategy == "multi_split" else []
    )
    misses = {}
    for record in records:
        line = []
        for logical, source, mapping in chosen:
            value = record.get(source, "")
            dtype = mapping.get("dtype", "string")
            if dtype in ("file_path", "file_content"):
                value, found = resolver.resolve(value, mapping, record)
                if not found:
                    misses.setdefault(logical, value)
                    value += "  (not in the archive)"
            else:
                value, ok = _convert(value, dtype)
                if not ok:
                    misses.setdefault(logical, record.get(source, ""))
            line.append(value)
        if strategy == "multi_split":
            line.append(split)
        out.rows.append(line)
    for logical, example in misses.items():
        out.problems.append(
            f"Column '{logical}': some values do not resolve as its dtype says (e.g. {example!r})."
        )
    return out
