"""The "Contributors and shares" step in Chromium: the editor keeps a live total as rows are
typed, added and removed; a CSV file is summed before it is sent; the server lists the file's bad
lines and saves nothing, then imports the corrected file of 1,000 contributors."""

import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import Page, expect

from contributors.models import ShareTableDraft
from marketplace.actors import actor_for_member
from marketplace.services.submissions import submission_create
from tests.e2e.browser import assert_accessible, screenshot
from tests.factories import make_org


@pytest.fixture
def submission(live_server, page: Page):
    """An approved organisation's owner signed in in the browser (the session cookie of a
    Django test client that logged them in), and a new draft submission."""
    org, user = make_org(uploads=True, name="Cymraeg Voices")
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page.context.set_default_timeout(10_000)
    return submission_create(
        actor=actor_for_member(user=user, organization=org), name="Welsh read speech"
    )


def contributors_csv(path, *, bad: dict[int, str] | None = None, n=1_000):
    """`n` contributors at 0.08 % each (80 %), with some lines replaced by `bad` (file line
    number → text)."""
    lines = ["email,name,percent"] + [
        f"speaker{i}@example.org,Speaker {i},0.08" for i in range(1, n + 1)
    ]
    for number, text in (bad or {}).items():
        lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_edit_the_table_then_import_a_csv_with_errors_and_then_without(
    live_server, page: Page, submission, tmp_path
):
    page.goto(f"{live_server.url}/submissions/{submission.public_id}/shares")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Welsh read speech: contributors and shares"
    )
    expect(page.get_by_role("navigation", name="Submission steps")).to_contain_text(
        "4. Contributors and shares"
    )
    editor = page.locator("#shares-editor")
    total = editor.locator("[data-total]")
    # The default: everything to the organisation.
    expect(editor.get_by_label("Cymraeg Voices (your organisation)")).to_have_value("100.00")
    expect(total).to_have_text("1 share, total 100.00 %. Adds up to 100 %: ready to save.")
    assert_accessible(page)

    # Rows: type, add one, remove one; the total follows.
    editor.get_by_label("Cymraeg Voices (your organisation)").fill("60")
    editor.get_by_label("Row 1: e-mail").fill("ana@example.org")
    editor.get_by_label("Row 1: name").fill("Ana Silva")
    editor.get_by_label("Row 1: share").fill("30")
    expect(total).to_have_text("2 shares, total 90.00 %. 10.00 % left to share out.")
    editor.get_by_label("Row 2: e-mail").fill("ben@example.org")
    editor.get_by_label("Row 2: share").fill("15")
    expect(total).to_contain_text("5.00 % too much.")
    editor.get_by_role("button", name="Add a contributor").click()
    expect(editor.get_by_label("Row 3: e-mail")).to_be_focused()
    editor.get_by_label("Row 3: e-mail").fill("cy@example.org")
    editor.get_by_label("Row 3: share").fill("10")
    editor.get_by_role("button", name="Remove ben@example.org").click()
    expect(editor.get_by_label("Row 2: e-mail")).to_be_hidden()
    expect(total).to_have_text("3 shares, total 100.00 %. Adds up to 100 %: ready to save.")
    expect(total).to_have_class("shares-total total-ok")
    editor.get_by_role("radio", name=re.compile("^Weights")).check()
    expect(total).to_have_text("3 shares, total weight 100.")
    expect(editor.locator("thead [data-amount-heading]")).to_have_text("Weight")
    editor.get_by_role("radio", name=re.compile("^Percentages")).check()

    editor.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("region", name="Messages")).to_contain_text("Saved: 2 contributors.")
    draft = ShareTableDraft.objects.get(submission=submission)
    assert [(line["email"], line["weight"]) for line in draft.lines] == [
        ("", 6_000),
        ("ana@example.org", 3_000),
        ("cy@example.org", 1_000),
    ]

    # A CSV of 1,000 contributors with two bad lines: summed before it is sent ...
    importer = page.locator("#shares-import")
    bad = contributors_csv(
        tmp_path / "contributors.csv",
        bad={7: "speaker6@example,Speaker 6,0.08", 412: "speaker411@example.org,Speaker 411,-1"},
    )
    importer.get_by_label("Cymraeg Voices’s own share").fill("20")
    importer.get_by_label("CSV file").set_input_files(bad)
    expect(importer.locator("[data-import-total]")).to_contain_text(
        "In this file: 1,000 contributors."
    )
    expect(importer.locator("[data-import-total]")).to_contain_text("not a valid percentage")
    screenshot(page, "submission-shares")
    # ... and the server lists every bad line and saves nothing.
    importer.get_by_role("button", name="Import and save").click()
    errors = page.get_by_role("list", name="Lines with problems")
    expect(errors.get_by_role("listitem")).to_have_count(2)
    expect(errors.get_by_role("listitem").nth(0)).to_have_text(
        "Line 7 (email): 'speaker6@example' is not a valid e-mail address."
    )
    expect(errors.get_by_role("listitem").nth(1)).to_have_text(
        "Line 412 (percent): must be more than 0 (got -1)."
    )
    expect(page.get_by_role("alert")).to_contain_text(
        "2 lines of the file have problems; nothing was saved."
    )
    assert_accessible(page)
    draft.refresh_from_db()
    assert draft.line_count == 3  # unchanged

    # The corrected file is imported: 1,000 lines at 0.08 % and the organisation's 20 %.
    good = contributors_csv(tmp_path / "contributors-fixed.csv")
    importer = page.locator("#shares-import")
    importer.get_by_label("Cymraeg Voices’s own share").fill("20")
    importer.get_by_label("CSV file").set_input_files(good)
    expect(importer.locator("[data-import-total]")).to_contain_text(
        "1,001 shares, total 100.00 %. Adds up to 100 %"
    )
    importer.get_by_role("button", name="Import and save").click()
    expect(page.get_by_role("region", name="Messages")).to_contain_text(
        "Saved: 1,000 contributors."
    )
    expect(page.locator("[data-staged-summary]")).to_contain_text("1001 lines, 100.00 %")
    preview = page.get_by_role("table", name="The first 50 of 1001 lines")
    expect(preview).to_contain_text("speaker49@example.org")
    expect(preview).not_to_contain_text("speaker50@example.org")
    assert_accessible(page)
    draft.refresh_from_db()
    assert (draft.line_count, draft.total_weight) == (1_001, 10_000)
