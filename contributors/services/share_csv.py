"""A share table from a CSV file: thousands of contributors at once.

The file: a header naming the columns `email`, `name` (optional) and one of `percent` or
`weight` (which also picks the basis), in any order; then one contributor per line. Comma,
semicolon or tab separated (read from the header); UTF-8 with or without a byte-order mark, or
UTF-16 with one (what spreadsheets save); quotes as in RFC 4180. A percentage may end in "%"
and, in a file not separated by commas, use a decimal comma. Blank lines are skipped. The
organisation's own share is not a line of the file: it is given beside it.

Everything is checked before anything is saved, and every bad line is reported with its line
number (counted as an editor counts them, so a quoted value spanning lines counts them all)."""

import codecs
import csv
import io
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from contributors.models import ShareTable, ShareTableDraft
from contributors.services.share_drafts import (
    SharesInvalid,
    share_draft_store,
    share_draft_target,
    shares_check,
)
from marketplace.actors import Actor
from marketplace.csv_safe import FORMULA_START  # a spreadsheet runs such a cell as a formula
from marketplace.models import Submission
from marketplace.services.errors import Invalid

CSV_MAX_BYTES = 16 * 1024 * 1024  # 100,000 lines of ~100 bytes with room to spare
COLUMNS = {"email": "email", "e-mail": "email", "name": "name"} | {
    "percent": "percent",
    "percentage": "percent",
    "%": "percent",
    "weight": "weight",
}
_DECIMAL_COMMA = re.compile(r"^\s*\d+,\d+\s*$")


class SharesCsvInvalid(Invalid):
    """`extra["errors"]`: [{"line", "column", "message", "organization"}], by line. `line` is
    None for the organisation's share (`organization` true) and for the file or the table as a
    whole; `column` is "" when the problem is the whole line."""

    code = "shares_csv_invalid"


@dataclass(frozen=True)
class SharesCsv:
    basis: str
    shares: list[dict]  # in the shape shares_parse takes
    line_numbers: list[int]  # the file line each share starts on
    errors: list[dict]  # lines that could not even be read as a share


def _whole_file(message: str, *, line: int | None = None) -> SharesCsvInvalid:
    return SharesCsvInvalid(message, errors=[_error(line, message)])


def _error(line: int | None, message: str) -> dict:
    return {"line": line, "column": "", "message": message, "organization": False}


def _decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise _whole_file("The file says it is UTF-16 text but is not.") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    errors = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(
                _error(
                    number,
                    f"not UTF-8 text (byte 0x{raw[exc.start]:02X} at position {exc.start + 1}). "
                    "Save the file as “CSV UTF-8”.",
                )
            )
    raise SharesCsvInvalid(
        f"The file is not UTF-8 text ({len(errors):,} line(s)); nothing was saved.",
        errors=errors,
    )


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def amount_clean(value: str, *, key: str, delimiter: str = "") -> str:
    """A share as people type it: "12.5 %" or, where the comma is not the separator, "12,5"."""
    value = value.strip()
    if key == "percent":
        value = value.removesuffix("%").strip()
        if delimiter != "," and _DECIMAL_COMMA.match(value):
            value = value.replace(",", ".")
    return value


def _unescaped(value: str) -> str:
    """Our CSV download writes '=… for a value a spreadsheet would run as a formula."""
    if value.startswith("'") and value[1:2] in FORMULA_START:
        return value[1:]
    return value


def shares_csv_read(*, data: bytes) -> SharesCsv:
    """Read the lines of a share-table CSV (see the module's docstring). Raises
    SharesCsvInvalid for what spoils the whole file (size, encoding, header, too many lines);
    lines that cannot be read are in `errors`, the others in `shares` for `shares_check`."""
    if len(data) > CSV_MAX_BYTES:
        raise _whole_file(f"The file is larger than {CSV_MAX_BYTES // (1024 * 1024)} MB.")
    text = _decode(data)
    if "\x00" in text:
        raise _whole_file("The file contains NUL characters: is it a spreadsheet, not a CSV?")
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first:
        raise _whole_file("The file is empty.")
    delimiter = _delimiter(first)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    max_lines = settings.CONTRIBUTOR_SHARES_MAX_LINES

    header: list[str] | None = None
    header_line = 0
    shares: list[dict] = []
    numbers: list[int] = []
    errors: list[dict] = []
    amount_key = ""
    ended = 0  # the line the previous record ended on
    while True:
        start = ended + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            ended = reader.line_num
            errors.append(_error(start, f"cannot be read: {exc}."))
            if header is None:
                raise SharesCsvInvalid(
                    "The first line (the column names) cannot be read.", errors=errors
                ) from None
            continue
        ended = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header, header_line = [cell.strip().strip('"').lower() for cell in row], start
            unknown = [c for c in header if c not in COLUMNS]
            names = [COLUMNS.get(c, c) for c in header]
            amounts = [n for n in names if n in ("percent", "weight")]
            problem = None
            if any("@" in c for c in header):
                problem = "The first line must name the columns: email,name,percent (or weight)."
            elif unknown:
                problem = (
                    f"Unknown column “{unknown[0]}”: the columns are email, name and percent "
                    "(or weight)."
                )
            elif len(set(names)) != len(names):
                problem = "A column is named twice."
            elif "email" not in names:
                problem = "An email column is needed."
            elif len(amounts) != 1:
                problem = "Exactly one of the columns percent or weight is needed."
            if problem:
                raise _whole_file(problem, line=start)
            header = names
            amount_key = amounts[0]
            continue
        if len(shares) + len(errors) >= max_lines:
            raise _whole_file(
                f"The file has more than {max_lines:,} contributor lines; split the table or "
                "ask us to raise the limit.",
                line=start,
            )
        if len(row) != len(header):
            errors.append(
                _error(
                    start,
                    f"{len(row)} value{'s' if len(row) != 1 else ''}, but the first line names "
                    f"{len(header)} columns.",
                )
            )
            continue
        cells = dict(zip(header, row, strict=True))
        share = {"email": _unescaped(cells["email"]), amount_key: ""}
        if "name" in cells:
            share["name"] = _unescaped(cells["name"].strip())
        share[amount_key] = amount_clean(cells[amount_key], key=amount_key, delimiter=delimiter)
        shares.append(share)
        numbers.append(start)
    if header is None:
        raise _whole_file("The file is empty.")
    if not shares and not errors:
        raise _whole_file("The file has column names but no contributor lines.", line=header_line)
    basis = ShareTable.Basis.PERCENTAGE if amount_key == "percent" else ShareTable.Basis.WEIGHT
    return SharesCsv(basis=basis, shares=shares, line_numbers=numbers, errors=errors)


def _organization_line(basis: str, amount: str) -> dict:
    key = "percent" if basis == ShareTable.Basis.PERCENTAGE else "weight"
    # A form field, not a cell: a decimal comma cannot be a separator there.
    return {"organization": True, key: amount_clean(amount, key=key, delimiter="")}


@transaction.atomic
def share_draft_import_csv(
    *, actor: Actor, submission: Submission, data: bytes, organization_share: str = ""
) -> ShareTableDraft:
    """Replace the submission's staged shares with a CSV file's (see the module's docstring),
    plus the organisation's own share when given (in the file's unit). Owners only; every line
    is checked and all the bad ones are reported (SharesCsvInvalid, with line numbers); nothing
    is saved unless every line is valid. Then saved as `share_draft_set` saves."""
    submission = share_draft_target(actor=actor, submission=submission)
    parsed = shares_csv_read(data=data)
    organization_share = (organization_share or "").strip()
    lead = [_organization_line(parsed.basis, organization_share)] if organization_share else []
    shares = lead + parsed.shares
    lines = [None] * len(lead) + parsed.line_numbers
    errors = list(parsed.errors)
    try:
        basis, specs = shares_check(basis=parsed.basis, shares=shares)
    except SharesInvalid as exc:
        for error in exc.extra["errors"]:
            message = error["message"]
            if error["duplicateOf"] is not None:
                other = lines[error["duplicateOf"]]
                message = message.removesuffix(".") + (
                    f" (also line {other})." if other else " (also the organisation's share)."
                )
            line = lines[error["index"]]
            errors.append(
                {
                    "line": line,
                    "column": error["field"],
                    "message": message,
                    "organization": line is None,
                }
            )
    except Invalid as exc:
        # The table as a whole (percentages not summing to 100, too many lines): only worth
        # saying when every line could be read, or it would count lines that are missing.
        if not errors:
            text = exc.message.removeprefix("shares: ")
            raise SharesCsvInvalid(
                text[:1].upper() + text[1:],
                errors=[{"line": None, "column": "", "message": text, "organization": False}],
            ) from None
    if errors:
        errors.sort(key=lambda e: (e["line"] is not None, e["line"] or 0))
        raise SharesCsvInvalid(
            f"{len(errors):,} line{'s' if len(errors) != 1 else ''} of the file "
            f"{'have' if len(errors) != 1 else 'has'} problems; nothing was saved.",
            errors=errors,
        )
    return share_draft_store(actor=actor, submission=submission, basis=basis, specs=specs)
