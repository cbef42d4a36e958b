"""Dataset terms: the license, the datasheet's restrictions, forbidden usage and additional
conditions, rendered as one text with a stable SHA-256.

The rule (documented for providers and buyers alike):

1. Additive. Every part applies at once; no part replaces another. The terms are the license
   *plus* the restrictions *plus* the forbidden uses *plus* the additional conditions.
2. The stricter wins. Where two parts conflict, the more restrictive reading applies.
3. Flags only narrow. The structured flags start from the license's. The datasheet can only
   make them stricter, never wider: it can withdraw a permission (commercial use, derivative
   works, model training) and add an obligation (share-alike, attribution), but it cannot grant
   a permission the license withholds or waive an obligation the license imposes.
4. A datasheet narrows a flag when its text says so in one of the phrasings of FLAG_RULES (e.g.
   "non-commercial" anywhere, or "commercial" / "training" / "derivative" in the forbidden
   usage). The rendered text is what a buyer accepts and is authoritative; the flags summarise
   it for filtering and are therefore computed conservatively (a false "not allowed" is
   possible, a false "allowed" is not meant to be).

The hash is the SHA-256 (hex) of the UTF-8 text. The text depends only on the dataset id, the
license (identifier, name, URL, custom text, notes, flags) and the three datasheet sections, with
line endings and trailing spaces normalised, so it is stable across requests, processes and
versions whose datasheet is unchanged; it changes whenever any of those change, and buyers then
accept the new text."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

FORMAT_VERSION = 1

FLAGS = ("commercial_use", "derivatives", "model_training", "share_alike", "attribution")
PERMISSIONS = ("commercial_use", "derivatives", "model_training")
OBLIGATIONS = ("share_alike", "attribution")
WIRE_FLAGS = {
    "commercial_use": "commercialUse",
    "derivatives": "derivatives",
    "model_training": "modelTraining",
    "share_alike": "shareAlike",
    "attribution": "attribution",
}
FLAG_LABELS = {
    "commercial_use": ("Commercial use", "allowed", "not allowed"),
    "derivatives": ("Derivative works", "allowed", "not allowed"),
    "model_training": ("Model training", "allowed", "not allowed"),
    "share_alike": ("Share-alike", "required", "not required"),
    "attribution": ("Attribution", "required", "not required"),
}

_NOT_ALLOWED = r"(?:is\s+|are\s+)?(?:not\s+(?:allowed|permitted)|prohibited|forbidden|banned)"
_ANY = ("restrictions", "forbidden_usage", "additional_conditions")
_FORBIDDEN = ("forbidden_usage",)

# (flag, sections searched, pattern). A match withdraws a permission or adds an obligation.
FLAG_RULES: list[tuple[str, tuple[str, ...], re.Pattern]] = [
    ("commercial_use", _ANY, re.compile(r"\bnon[-\s]?commercial\b", re.I)),
    ("commercial_use", _ANY, re.compile(r"\bno\s+commercial\b", re.I)),
    (
        "commercial_use",
        _ANY,
        re.compile(r"\bcommercial\s+(?:use|uses|purposes?)\s+" + _NOT_ALLOWED, re.I),
    ),
    ("commercial_use", _FORBIDDEN, re.compile(r"\bcommercial", re.I)),
    ("derivatives", _ANY, re.compile(r"\bno[-\s]deriv", re.I)),
    ("derivatives", _ANY, re.compile(r"\bno\s+modifications?\b", re.I)),
    ("derivatives", _ANY, re.compile(r"\bderivative\s+(?:works?\s+)?" + _NOT_ALLOWED, re.I)),
    ("derivatives", _FORBIDDEN, re.compile(r"\bderivative|\bmodif(?:y|ied|ication)", re.I)),
    (
        "model_training",
        _ANY,
        re.compile(r"\bno\s+(?:ai|ml|model|machine[-\s]learning)\s+training\b", re.I),
    ),
    (
        "model_training",
        _ANY,
        re.compile(r"\b(?:ai|ml|model|machine[-\s]learning)\s+training\s+" + _NOT_ALLOWED, re.I),
    ),
    ("model_training", _ANY, re.compile(r"\bnot\s+(?:be\s+)?used\s+(?:to|for)\s+train", re.I)),
    ("model_training", _FORBIDDEN, re.compile(r"\btrain(?:ing|ed)?\b", re.I)),
    ("share_alike", _ANY, re.compile(r"\bshare[-\s]?alike\b", re.I)),
    ("share_alike", _ANY, re.compile(r"\bunder\s+the\s+same\s+licen[cs]e\b", re.I)),
    ("attribution", _ANY, re.compile(r"\b(?:attribution|attribute|credit)\b", re.I)),
]


def normalise(text: str) -> str:
    """Line endings to \\n, no trailing spaces, no leading/trailing blank lines."""
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n").strip()


@dataclass(frozen=True)
class LicenseInfo:
    identifier: str
    name: str
    url: str
    text: str
    notes: str
    custom: bool
    flags: dict[str, bool]


@dataclass(frozen=True)
class Terms:
    dataset_id: str
    license: LicenseInfo
    restrictions: str
    forbidden_usage: str
    additional_conditions: str
    flags: dict[str, bool]
    narrowed: tuple[str, ...]
    text: str
    hash: str
    sections: dict[str, str] = field(default_factory=dict)


def effective_flags(
    license_flags: dict[str, bool], sections: dict[str, str]
) -> tuple[dict[str, bool], tuple[str, ...]]:
    """The license's flags narrowed by the datasheet (rule 3/4 above). Returns the flags and
    the names of those the datasheet changed."""
    flags = {name: bool(license_flags[name]) for name in FLAGS}
    narrowed = []
    for name, where, pattern in FLAG_RULES:
        stricter = name in OBLIGATIONS  # obligations become True, permissions False
        if flags[name] == stricter:
            continue
        if any(pattern.search(sections.get(section, "")) for section in where):
            flags[name] = stricter
            narrowed.append(name)
    return flags, tuple(narrowed)


def render(
    *,
    dataset_id: str,
    license: LicenseInfo,
    restrictions: str,
    forbidden_usage: str,
    additional_conditions: str,
) -> Terms:
    sections = {
        "restrictions": normalise(restrictions),
        "forbidden_usage": normalise(forbidden_usage),
        "additional_conditions": normalise(additional_conditions),
    }
    flags, narrowed = effective_flags(license.flags, sections)
    out: list[str] = [
        f"DATA COLLECTIVE DATASET TERMS (format {FORMAT_VERSION})",
        f"Dataset: {dataset_id}",
        "",
        "These terms are the dataset's license together with the provider's restrictions, "
        "forbidden uses and additional conditions. All of them apply at once. Where they "
        "conflict, the stricter one applies.",
        "",
        "1. LICENSE",
    ]
    if license.identifier:
        out.append(f"{normalise(license.name)} ({license.identifier})")
    else:
        out.append(normalise(license.name))
    if license.url:
        out.append(f"URL: {license.url}")
    if license.text:
        out += ["License text as stated by the provider:", normalise(license.text)]
    if license.notes:
        out.append(f"Note: {normalise(license.notes)}")
    out += ["", "2. PERMISSIONS AND OBLIGATIONS (summary)"]
    for name in FLAGS:
        label, yes, no = FLAG_LABELS[name]
        note = " (narrowed by the provider's datasheet)" if name in narrowed else ""
        out.append(f"- {label}: {yes if flags[name] else no}{note}")
    out.append(
        "This summary is the license's, narrowed by sections 3 to 5; the datasheet can "
        "withdraw a permission or add an obligation, never the reverse."
    )
    for number, (title, key) in enumerate(
        [
            ("RESTRICTIONS", "restrictions"),
            ("FORBIDDEN USAGE", "forbidden_usage"),
            ("ADDITIONAL CONDITIONS", "additional_conditions"),
        ],
        start=3,
    ):
        out += ["", f"{number}. {title}", sections[key] or "None stated."]
    text = "\n".join(out) + "\n"
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Terms(
        dataset_id=dataset_id,
        license=license,
        restrictions=sections["restrictions"],
        forbidden_usage=sections["forbidden_usage"],
        additional_conditions=sections["additional_conditions"],
        flags=flags,
        narrowed=narrowed,
        text=text,
        hash=digest,
        sections=sections,
    )


def wire_flags(flags: dict[str, bool]) -> dict[str, bool]:
    return {WIRE_FLAGS[name]: bool(flags[name]) for name in FLAGS}
