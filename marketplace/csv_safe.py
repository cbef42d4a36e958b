"""CSV cells a spreadsheet will not run: the one escaping rule of every CSV we write.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by
spreadsheet programs (OWASP, "CSV Injection"); names, e-mails and references such as a Stripe id
or an order ref come from outside, so such a text cell is written with a leading `'`. Plain
numbers (`-12.5`, `+3`) are left alone: a number is never a formula, and escaping it would turn
it into text. Quotes and separators inside a cell are the csv module's business (it quotes
them). Our own CSV imports read an escaped cell back with `csv_cell_unescape`."""

import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def csv_cell(value):
    """The value as written to a CSV cell, a would-be formula escaped; non-text values (ints,
    None) as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_row(values) -> list:
    """Every cell of a row through `csv_cell`."""
    return [csv_cell(v) for v in values]


def csv_cell_unescape(value: str) -> str:
    """What `csv_cell` escaped, as it was: `'=1+1` -> `=1+1`; any other text unchanged."""
    if value.startswith("'") and value[1:2] in FORMULA_START:
        return value[1:]
    return value
