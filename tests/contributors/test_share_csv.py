"""A share table from a CSV file (contributors.services.share_csv): what spreadsheets write is
read (byte-order marks, UTF-16, semicolons and decimal commas, quotes), hostile or broken input
is refused with the line and the reason, and nothing is saved unless every line is valid."""

import codecs

import pytest

from contributors.models import ShareTableDraft
from contributors.services.share_csv import (
    CSV_MAX_BYTES,
    SharesCsvInvalid,
    share_draft_import_csv,
    shares_csv_read,
)
from marketplace.services.submissions import submission_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def submission(provider):
    return submission_create(actor=provider.actor, name="Welsh read speech")


def read(text: str | bytes):
    return shares_csv_read(data=text.encode() if isinstance(text, str) else text)


def refused(text: str | bytes) -> SharesCsvInvalid:
    with pytest.raises(SharesCsvInvalid) as caught:
        read(text)
    return caught.value


def test_what_spreadsheets_write_is_read():
    plain = read(
        'email,name,percent\r\nana@example.org,"Silva, Ana",40\r\n\r\nben@x.org,Ben,60\r\n'
    )
    assert (plain.basis, plain.errors, plain.line_numbers) == ("percentage", [], [2, 4])
    assert plain.shares == [
        {"email": "ana@example.org", "name": "Silva, Ana", "percent": "40"},
        {"email": "ben@x.org", "name": "Ben", "percent": "60"},
    ]
    # Excel's "CSV UTF-8" (a byte-order mark), in a semicolon locale with decimal commas.
    excel = read(codecs.BOM_UTF8 + "E-mail;Name;Percent\nzoë@example.org;Zoë;12,5 %\n".encode())
    assert excel.shares == [{"email": "zoë@example.org", "name": "Zoë", "percent": "12.5"}]
    # "Unicode text" (UTF-16 with a byte-order mark), tab separated, columns in another order.
    utf16 = read("weight\temail\n3\tana@example.org\n".encode("utf-16"))
    assert (utf16.basis, utf16.shares) == ("weight", [{"email": "ana@example.org", "weight": "3"}])
    # A quoted value over two lines: the next record's number counts both.
    multi = read('email,name,weight\na@x.org,"Line one\nline two",1\nb@x.org,B,2\n')
    assert multi.line_numbers == [2, 4] and multi.shares[0]["name"] == "Line one\nline two"
    # What our download escapes for spreadsheets ('=...) reads back as it was.
    escaped = read("email,name,weight\na@x.org,'=Ana,1\n")
    assert escaped.shares[0]["name"] == "=Ana"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The file is empty."),
        ("\n\n", "The file is empty."),
        ("ana@example.org,Ana,40\n", "must name the columns"),
        ("email,name,share\na@x.org,A,1\n", "Unknown column “share”"),
        ("email,percent,weight\n", "Exactly one of the columns"),
        ("name,percent\nAna,100\n", "An email column is needed"),
        ("email,email,percent\n", "named twice"),
        ("email,percent\n", "column names but no contributor lines"),
        ("email,percent\na@x.org,1\x00\n", "NUL characters"),
        ('"email,percent\n', "first line (the column names) cannot be read"),
    ],
)
def test_a_file_that_is_not_a_share_table_is_refused_as_a_whole(text, message):
    assert message in refused(text).message


def test_lines_that_cannot_be_read_are_listed_with_their_numbers():
    parsed = read('email,name,percent\na@x.org,A,50\nb@x.org,"B"x,10\nc@x.org,C\nd@x.org,D,50\n')
    assert [(e["line"], e["message"]) for e in parsed.errors] == [
        (3, "cannot be read: ',' expected after '\"'."),
        (4, "2 values, but the first line names 3 columns."),
    ]
    assert parsed.line_numbers == [2, 5]
    # An unclosed quote is reported where it starts.
    unclosed = read('email,percent\na@x.org,50\n"b@x.org,50\nc@x.org,50\n')
    assert [e["line"] for e in unclosed.errors] == [3]


def test_text_that_is_not_utf8_is_listed_line_by_line():
    data = "email,name,percent\na@x.org,Zoë,50\n".encode() + "b@x.org,Zoë,50\n".encode("latin-1")
    caught = refused(data)
    assert [(e["line"], e["message"]) for e in caught.extra["errors"]] == [
        (3, "not UTF-8 text (byte 0xEB at position 11). Save the file as “CSV UTF-8”.")
    ]


def test_limits(settings):
    settings.CONTRIBUTOR_SHARES_MAX_LINES = 3
    ok = read("email,weight\n" + "".join(f"{i}@x.org,1\n" for i in range(3)))
    assert len(ok.shares) == 3
    caught = refused("email,weight\n" + "".join(f"{i}@x.org,1\n" for i in range(4)))
    assert "more than 3 contributor lines" in caught.message
    assert caught.extra["errors"][0]["line"] == 5
    assert "larger than 16 MB" in refused(b"x" * (CSV_MAX_BYTES + 1)).message
    # One huge cell is a line that cannot be read, not a crash.
    huge = read("email,name,weight\na@x.org," + "n" * 200_000 + ",1\nb@x.org,B,1\n")
    assert [e["line"] for e in huge.errors] == [2] and huge.line_numbers == [3]


def test_import_lists_every_bad_line_and_saves_nothing(provider, submission):
    data = (
        b"email,name,percent\n"
        b"ana@example.org,Ana,40\n"
        b"not-an-address,Bad,10\n"
        b"ben@example.org,Ben,0\n"
        b"c@x.org,C\n"
        b"ANA@example.org,Ana again,5\n"
    )
    with pytest.raises(SharesCsvInvalid) as caught:
        share_draft_import_csv(
            actor=provider.actor, submission=submission, data=data, organization_share="abc"
        )
    errors = caught.value.extra["errors"]
    assert [(e["line"], e["column"], e["organization"]) for e in errors] == [
        (None, "percent", True),  # the organisation's share, given beside the file
        (3, "email", False),
        (4, "percent", False),
        (5, "", False),
        (6, "email", False),
    ]
    assert errors[4]["message"] == "ana@example.org appears more than once (also line 2)."
    assert caught.value.message == "5 lines of the file have problems; nothing was saved."
    assert not ShareTableDraft.objects.exists()


def test_import_checks_the_sum_with_the_organisation_s_share_then_saves(provider, submission):
    body = "email,name,percent\n" + "".join(
        f"person{i}@example.org,Person {i},0.04\n" for i in range(2_000)
    )
    with pytest.raises(SharesCsvInvalid) as caught:
        share_draft_import_csv(actor=provider.actor, submission=submission, data=body.encode())
    assert caught.value.message == "Percentages sum to 80.00, not 100."
    draft = share_draft_import_csv(
        actor=provider.actor,
        submission=submission,
        data=body.encode(),
        organization_share="20 %",
    )
    assert (draft.line_count, draft.total_weight, draft.basis) == (2_001, 10_000, "percentage")
    assert draft.lines[0] == {"organization": True, "email": "", "name": "", "weight": 2_000}
    assert draft.lines[2_000]["email"] == "person1999@example.org"
