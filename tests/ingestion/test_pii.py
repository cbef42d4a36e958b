"""Personal-data detection: validated candidates count, look-alikes in ordinary data do not."""

import pytest

from marketplace.ingestion.pii import PiiCounter, PiiScanner, iban_ok, luhn_ok, scan_block


def kinds(text: str) -> dict:
    counter = PiiCounter(5)
    scan_block(text.encode(), counter, "m", 1)
    return dict(counter.counts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe+tag@mail.example.co.uk today", {"email": 1}),
        ("call +44 20 7946 0958 now", {"phone": 1}),
        ("(555) 123-4567 or 555.123.4567", {"phone": 2}),
        ("+1 555-123-4567", {"phone": 1}),
        (
            "visa 4111 1111 1111 1111 and 4111111111111111 and 3782-822463-10005",
            {"payment_card": 3},
        ),
        ("GB82 WEST 1234 5698 7654 32 / DE89370400440532013000", {"iban": 2}),
        ("ssn: 123-45-6789", {"us_ssn": 1}),
        ("from 10.0.0.1 and 2001:db8::8a2e:370:7334 and fe80::1", {"ip_address": 3}),
    ],
)
def test_detects(text, expected):
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "clip_000123456789012.mp3\t3f2a9c41234567890123456789abcdef",  # ids, hex
        "4111 1111 1111 1112",  # fails Luhn
        "1234567812345678",  # Luhn-valid but no card network prefix... (starts with 1)
        "GB82 WEST 1234 5698 7654 33",  # wrong IBAN check digits
        "000-12-3456 666-12-3456 900-12-3456",  # invalid SSN areas
        "2024-01-05 12:30:45, 3.14159265358979, version 1.2.3, 300.1.1.1",
        "std::vector<int> a; 00:1a:2b:3c:4d:5e",
        "user@localhost",
    ],
)
def test_ignores_look_alikes(text):
    assert kinds(text) == {}


def test_checksums():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("DE89 3704 0044 0532 0130 00") and not iban_ok("DE89 3704 0044 0532 0130 01")


def test_examples_are_redacted_with_line_numbers():
    counter = PiiCounter(2)
    scan_block(
        b"a\nb jane@example.com\nc 123-45-6789\nd x@y.org\ne z@w.net\n", counter, "f.txt", 10
    )
    assert counter.counts["email"] == 3
    assert counter.examples["email"] == [
        {"member": "f.txt", "line": 11, "redacted": "j***@***.com"},
        {"member": "f.txt", "line": 13, "redacted": "x***@***.org"},
    ]
    assert counter.examples["us_ssn"][0]["redacted"] == "*******89"


def test_members_over_budget_are_sampled_evenly():
    counter = PiiCounter(5)
    block = b"nothing here\n" * 1000
    scanner = PiiScanner("big.txt", size=40 * len(block), budget=10 * len(block), counter=counter)
    for i in range(40):
        start = len(block) * 0
        scanner.lines(block, start, len(block), i * 1000 + 1)
    assert scanner.sampled and scanner.stride == 4
    assert scanner.scanned == 10 * len(block)
