"""Personal-data scan of text: e-mail addresses, phone numbers, payment card numbers (Luhn),
IBANs (mod 97), US social security numbers, IPv4/IPv6 addresses.

One RE2 pass finds candidates of every kind (RE2 runs in linear time: hostile text cannot make it
backtrack, and it scans at several hundred MB/s where Python's `re` manages ~50 MB/s per
pattern); each candidate is then checked in Python (word boundaries, Luhn, mod 97, address
parsing), which keeps false positives on numeric data low. Scanning is budgeted: a member
larger than its budget is sampled in evenly spread blocks."""

import ipaddress
import re
from collections import Counter

import re2

KINDS = ("email", "phone", "payment_card", "iban", "us_ssn", "ip_address")

# \b (RE2 has no look-around) keeps digit runs inside longer tokens (hex ids, file names) from
# becoming candidates at all; classify() re-checks the edges with the separators.
_PATTERNS = {
    "email": rb"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}",
    "intl": rb"\+[1-9][0-9]{0,2}(?:[ .-]?\(?[0-9]{1,4}\)?){2,5}\b",
    "ssn": rb"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b",
    "card": rb"\b(?:[0-9]{13,19}|[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{1,7}|[0-9]{4}[ -][0-9]{6}[ -][0-9]{5})\b",
    "nanp": rb"(?:\([0-9]{3}\) ?|\b[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}\b",
    "ipv4": rb"\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\b",
    "iban": rb"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?",
    "ipv6": rb"(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|[0-9A-Fa-f:]{0,35}::[0-9A-Fa-f:]{0,35}",
}
_CANDIDATES = re2.compile(b"|".join(b"(%s)" % p for p in _PATTERNS.values()))
_GROUP_KIND = (None, *_PATTERNS)  # lastindex -> pattern name

_SSN = re.compile(rb"(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}")
_IPV4 = re.compile(
    rb"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
)
_NONDIGIT = re.compile(rb"\D")
# Characters that may not touch a candidate on either side (it would be part of a longer token).
_ALNUM = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NUMERIC_EDGE = _ALNUM | frozenset(b".-+")
_EMAIL_EDGE = _ALNUM | frozenset(b".-+%")
_IP_EDGE = _ALNUM | frozenset(b".:")

_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_brand_ok(digits: str) -> bool:
    # Issuer prefixes of the major networks (Visa, Mastercard, Amex, Diners, JCB, Discover,
    # UnionPay): random numbers pass Luhn one time in ten, the prefix check cuts that further.
    two = digits[:2]
    return (
        digits[0] == "4"
        or two in {"34", "37", "36", "38", "35", "62", "65", "60"}
        or "51" <= two <= "55"
        or "2221" <= digits[:4] <= "2720"
    )


def iban_ok(text: str) -> bool:
    iban = text.replace(" ", "")
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def redact(kind: str, value: str) -> str:
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@***.{domain.rsplit('.', 1)[-1]}"
    if kind == "ip_address":
        if ":" in value:
            return value.split(":", 1)[0] + ":****:…"
        return value.split(".", 1)[0] + ".***.***.***"
    if kind == "iban":
        compact = value.replace(" ", "")
        return compact[:2] + "*" * (len(compact) - 6) + compact[-4:]
    digits = re.sub(r"\D", "", value)
    keep = 4 if kind == "payment_card" else 2
    return "*" * (len(digits) - keep) + digits[-keep:]


class PiiCounter:
    """Totals over the whole archive: counts per kind, members per kind, redacted examples."""

    def __init__(self, examples_per_kind: int):
        self.counts: Counter = Counter()
        self.members: Counter = Counter()
        self.examples: dict[str, list] = {k: [] for k in KINDS}
        self.examples_per_kind = examples_per_kind

    def hit(self, kind: str, value: bytes, member: str, line: int | None) -> None:
        self.counts[kind] += 1
        examples = self.examples[kind]
        if len(examples) < self.examples_per_kind:
            text = value.decode("utf-8", "replace")
            examples.append({"member": member, "line": line, "redacted": redact(kind, text)})


def _free(block: bytes, start: int, end: int, edge: frozenset) -> bool:
    return (start == 0 or block[start - 1] not in edge) and (
        end >= len(block) or block[end] not in edge
    )


def _iban_end(block: bytes, start: int, end: int) -> int | None:
    """End of the IBAN starting at start, by its country's length (spaces skipped): the greedy
    candidate may run on into a following word."""
    length = _IBAN_LENGTHS.get(block[start : start + 2].decode())
    seen = 0
    for i in range(start, end):
        if block[i] != 32:
            seen += 1
            if length is not None and seen == length:
                return i + 1
    return None


def classify(kind: str, block: bytes, start: int, end: int) -> tuple[str, int] | None:
    """(PII kind, end) for a candidate of the given pattern, or None when it is not personal data."""
    value = block[start:end]
    if kind == "email":
        return ("email", end) if _free(block, start, end, _EMAIL_EDGE) else None
    if kind == "ipv6":
        while start < end and block[start] not in b"0123456789ABCDEFabcdef:":
            start += 1
        token = block[start:end].decode()
        if token.count(":") < 2 or not _free(block, start, end, _IP_EDGE):
            return None
        try:
            ipaddress.IPv6Address(token)
        except ValueError:
            return None
        return ("ip_address", end)
    if kind == "iban":
        if start and block[start - 1] in _ALNUM:
            return None
        iban_end = _iban_end(block, start, end)
        if iban_end is None or (iban_end < len(block) and block[iban_end] in _ALNUM):
            return None
        return ("iban", iban_end) if iban_ok(block[start:iban_end].decode()) else None
    if kind == "ipv4":
        ok = _free(block, start, end, _IP_EDGE) and _IPV4.fullmatch(value)
        return ("ip_address", end) if ok else None
    if not _free(block, start, end, _NUMERIC_EDGE if kind != "intl" else _ALNUM):
        return None
    digits = _NONDIGIT.sub(b"", value).decode()
    if kind == "ssn":
        return ("us_ssn", end) if _SSN.fullmatch(value) else None
    if kind == "card":
        ok = 13 <= len(digits) <= 19 and luhn_ok(digits) and card_brand_ok(digits)
        return ("payment_card", end) if ok else None
    if kind == "nanp":
        return ("phone", end)
    if kind == "intl":
        return ("phone", end) if 8 <= len(digits) <= 15 else None
    return None


def scan_block(
    block: bytes,
    counter: PiiCounter,
    member: str,
    first_line: int | None,
    start: int = 0,
    end: int | None = None,
) -> set:
    """Counts personal data in block[start:end] (whole lines); returns the kinds found."""
    found = set()
    end = len(block) if end is None else end
    for m in _CANDIDATES.finditer(block, start, end):
        begin, stop = m.span()
        result = classify(_GROUP_KIND[m.lastindex], block, begin, stop)
        if result is None:
            continue
        kind, stop = result
        line = None
        if first_line is not None and len(counter.examples[kind]) < counter.examples_per_kind:
            line = first_line + block.count(b"\n", start, begin)
        counter.hit(kind, block[begin:stop], member, line)
        found.add(kind)
    return found


class PiiScanner:
    """Scans one text member within its byte budget, either fed ranges of whole lines by the
    member's text analyzer (`lines`) or raw chunks (`feed`, with its own line assembly)."""

    def __init__(self, member: str, size: int, budget: int, counter: PiiCounter):
        self.member = member
        self.counter = counter
        self.budget = budget
        self.scanned = 0
        self.kinds: set = set()
        self._carry = b""
        self._line = 1
        # A member over budget is sampled: every `stride`-th block is scanned (line numbers
        # are then not reported).
        self.stride = max(1, -(-size // max(budget, 1)))
        self.sampled = self.stride > 1
        self._index = 0

    def lines(self, buf: bytes, start: int, end: int, first_line: int) -> None:
        index = self._index
        self._index += 1
        if index % self.stride == 0 and self.scanned < self.budget:
            self.scanned += end - start
            line = None if self.sampled else first_line
            self.kinds |= scan_block(buf, self.counter, self.member, line, start, end)

    def feed(self, chunk: bytes) -> None:
        data = self._carry + chunk if self._carry else chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            if len(data) <= 65536:
                self._carry = data
                return
            cut = data.rfind(b" ") + 1 or len(data)
        self._carry = data[cut:]
        self._scan(data, cut)

    def _scan(self, data: bytes, end: int) -> None:
        self.lines(data, 0, end, self._line)
        self._line += data.count(b"\n", 0, end)

    def finish(self) -> None:
        if self._carry:
            self._scan(self._carry, len(self._carry))
            self._carry = b""
        for kind in self.kinds:
            self.counter.members[kind] += 1
