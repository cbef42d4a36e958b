"""The "Contributors and shares" step, as the server renders and handles it: the editor saves a
staged table through the service and shows its errors next to the row they are about, a CSV of
thousands of lines is imported (or, with one bad line, listed and nothing saved), members see it
read-only, a published dataset's table shows where each invitation stands; another
organisation's submission is 404 and every change needs the CSRF token."""

import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from contributors.models import Contributor, ShareTableDraft
from contributors.services.invitations import contributor_claim
from contributors.services.share_drafts import share_draft_set
from marketplace.models import Submission
from marketplace.services.review import submission_approve
from tests.catalogue_helpers import DATASHEET, api, make_archive, upload_bytes
from tests.factories import make_key, make_org, make_user
from tests.parties import claim_token, party, verified_address

pytestmark = pytest.mark.django_db


def browser(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def owner(provider):
    """The provider's owner in a browser, and a new draft submission of theirs."""
    response = provider.client.post(
        "/api/submissions", {"name": "Welsh read speech"}, format="json"
    )
    submission = Submission.objects.get(public_id=response.json()["submission"]["id"])
    return browser(provider.user), submission


def url(submission) -> str:
    return f"/submissions/{submission.public_id}/shares"


def editor_post(*, basis="percentage", organization="50", rows=(), then="shares", initial=0):
    data = {
        "action": "save",
        "then": then,
        "table-basis": basis,
        "table-organization_amount": organization,
        "rows-TOTAL_FORMS": str(len(rows)),
        "rows-INITIAL_FORMS": str(initial),
        "rows-MIN_NUM_FORMS": "0",
        "rows-MAX_NUM_FORMS": "200",
    }
    for i, row in enumerate(rows):
        email, name, amount, *delete = row
        data |= {f"rows-{i}-email": email, f"rows-{i}-name": name, f"rows-{i}-amount": amount}
        if delete:
            data[f"rows-{i}-DELETE"] = "on"
    return data


def csv_file(lines: list[str], *, header="email,name,percent") -> SimpleUploadedFile:
    body = "\n".join([header, *lines]) + "\n"
    return SimpleUploadedFile("contributors.csv", body.encode(), content_type="text/csv")


def people(n: int, *, percent="0.04") -> list[str]:
    return [f"person{i}@example.org,Person {i},{percent}" for i in range(n)]


def test_the_step_sits_between_license_and_submit_and_starts_with_the_default(owner):
    client, submission = owner
    response = client.get(url(submission))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<strong aria-current="step">4. Contributors and shares</strong>' in html
    assert f'href="/submissions/{submission.public_id}/license">3. License and price' in html
    assert f'href="/submissions/{submission.public_id}/submit">5. Submit' in html
    assert "Nothing staged yet: without a table, 100 % goes to" in html
    assert (
        'name="table-organization_amount" id="id_table-organization_amount" value="100.00"' in html
    )
    assert 'name="rows-TOTAL_FORMS" value="2"' in html  # two blank rows to fill in
    assert "<template data-row-template>" in html and "rows-__prefix__-email" in html
    assert 'enctype="multipart/form-data"' in html


def test_the_editor_saves_the_table_through_the_service(owner):
    client, submission = owner
    response = client.post(
        url(submission),
        editor_post(
            rows=[
                ("ana@example.org", "Ana", "40"),
                ("ben@example.org", "Ben", "10 %"),
                ("", "", ""),  # a blank row is skipped
                ("cy@example.org", "Cy", "25", "remove"),  # a removed row is dropped
            ]
        ),
    )
    assert response.status_code == 302 and response["Location"] == url(submission)
    draft = ShareTableDraft.objects.get(submission=submission)
    assert [(line["email"], line["weight"]) for line in draft.lines] == [
        ("", 5_000),
        ("ana@example.org", 4_000),
        ("ben@example.org", 1_000),
    ]
    page = client.get(url(submission)).content.decode()
    assert "Saved: 2 contributors." in page and "Waiting for approval" in page
    assert "3 lines, 100.00 %" in page
    # The editor starts from the staged table.
    assert 'value="ana@example.org"' in page and 'name="rows-TOTAL_FORMS" value="4"' in page

    # "Save and continue" goes on to the submit step.
    response = client.post(
        url(submission),
        editor_post(
            basis="weight", organization="", rows=[("ana@example.org", "Ana", "3")], then="submit"
        ),
    )
    assert response["Location"] == f"/submissions/{submission.public_id}/submit"
    draft.refresh_from_db()
    assert (draft.basis, draft.line_count) == ("weight", 1)


def test_editor_errors_are_shown_at_their_row_and_nothing_is_saved(owner):
    client, submission = owner
    response = client.post(
        url(submission),
        editor_post(
            organization="50",
            rows=[
                ("ana@example.org", "Ana", "40"),
                ("not-an-address", "Bad", "5"),
                ("ANA@example.org", "Again", "5"),
                ("ben@example.org", "Ben", "zero"),
            ],
        ),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "3 lines of the share table have problems; nothing was saved." in html
    assert re.search(
        r'id="id_rows-1-email_error">&#x27;not-an-address&#x27; is not a valid e-mail', html
    )
    assert (
        'id="id_rows-2-email_error">ana@example.org appears more than once (also row 1).</small>'
        in html
    )
    assert 'id="id_rows-3-amount_error">&#x27;zero&#x27; is not a number like' in html
    assert '<a href="#id_rows-1-email">Row 2</a>' in html  # the summary links to the field
    assert 'value="not-an-address"' in html  # what was typed is kept
    assert not ShareTableDraft.objects.exists()

    # A table-wide problem is said once, above the table.
    response = client.post(
        url(submission), editor_post(organization="50", rows=[("a@x.org", "", "40")])
    )
    assert response.status_code == 400
    assert "Percentages sum to 90.00, not 100." in response.content.decode()
    assert not ShareTableDraft.objects.exists()


def test_a_csv_of_2000_contributors_is_imported(owner):
    client, submission = owner
    response = client.post(
        url(submission),
        {
            "action": "import",
            "csv-file": csv_file(people(2_000)),
            "csv-organization_amount": "20",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    draft = ShareTableDraft.objects.get(submission=submission)
    assert (draft.line_count, draft.total_weight) == (2_001, 10_000)
    assert draft.lines[-1]["email"] == "person1999@example.org"
    page = client.get(url(submission)).content.decode()
    assert "Saved: 2,000 contributors." in page
    assert "2001 lines, 100.00 %" in page
    # Too many rows for the editor: a preview, the CSV download and the import instead.
    assert "The first 50 of 2001 lines" in page
    assert 'name="rows-TOTAL_FORMS"' not in page
    assert "more than the 200 this page edits row by row" in page
    # The import form starts from the organisation's staged share.
    assert re.search(r'<input type="text" name="csv-organization_amount" value="20.00"', page)

    download = client.get(url(submission) + "?download=csv")
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    rows = download.content.decode().splitlines()
    assert rows[0] == "email,name,percent" and len(rows) == 2_001
    assert rows[1] == "person0@example.org,Person 0,0.04"


def test_a_csv_with_a_bad_line_lists_it_and_saves_nothing(owner):
    client, submission = owner
    lines = people(2_000, percent="0.05")
    lines[1_233] = "person1233@example,Person 1233,0.05"  # line 1,235 of the file
    response = client.post(
        url(submission),
        {"action": "import", "csv-file": csv_file(lines), "csv-organization_amount": ""},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "1 line of the file has problems; nothing was saved." in html
    assert (
        "<li>Line 1235 (email): &#x27;person1233@example&#x27; is not a valid e-mail address.</li>"
        in html
    )
    assert not ShareTableDraft.objects.exists() and not Contributor.objects.exists()

    # A broken file is refused as a whole, with the reason.
    response = client.post(
        url(submission),
        {
            "action": "import",
            "csv-file": SimpleUploadedFile("x.csv", b"\xff\xfe\x00\xd8", content_type="text/csv"),
        },
    )
    assert response.status_code == 400 and "UTF-16" in response.content.decode()
    response = client.post(url(submission), {"action": "import"})
    assert response.status_code == 400 and "This field is required" in response.content.decode()
    assert not ShareTableDraft.objects.exists()


def test_another_organisation_s_submission_is_404(owner):
    _client, submission = owner
    _org, stranger = make_org(uploads=True)
    client = browser(stranger)
    assert client.get(url(submission)).status_code == 404
    assert client.get(url(submission) + "?download=csv").status_code == 404
    assert (
        client.post(url(submission), editor_post(rows=[("a@x.org", "", "50")])).status_code == 404
    )
    assert (
        client.post(
            url(submission), {"action": "import", "csv-file": csv_file(["a@x.org,A,50"])}
        ).status_code
        == 404
    )
    assert not ShareTableDraft.objects.exists()


def test_changes_need_the_csrf_token(owner, provider):
    _client, submission = owner
    client = browser(provider.user, enforce_csrf_checks=True)
    assert client.get(url(submission)).status_code == 200
    response = client.post(url(submission), editor_post(rows=[("a@x.org", "", "50")]))
    assert response.status_code == 403
    response = client.post(
        url(submission), {"action": "import", "csv-file": csv_file(["a@x.org,A,50"])}
    )
    assert response.status_code == 403
    assert not ShareTableDraft.objects.exists()


def test_members_see_the_staged_table_read_only_with_masked_addresses(owner, provider):
    _client, submission = owner
    share_draft_set(
        actor=provider.actor,
        submission=submission,
        basis="percentage",
        shares=[
            {"organization": True, "percent": "60"},
            {"email": "ana@example.org", "percent": "40"},
        ],
    )
    _secret, member_key = make_key(org=provider.org)
    member = browser(member_key.user)
    html = member.get(url(submission)).content.decode()
    assert "Only owners of" in html and "a***@example.org" in html
    assert "ana@example.org" not in html and 'name="rows-TOTAL_FORMS"' not in html
    assert member.get(url(submission) + "?download=csv").status_code == 404
    response = member.post(url(submission), editor_post(organization="100"))
    assert response.status_code == 403
    assert (
        "Only an owner of the organisation can change revenue shares." in response.content.decode()
    )
    assert ShareTableDraft.objects.get().line_count == 2


def test_shares_are_read_only_while_in_review(provider):
    client = api(provider.secret)
    sid = client.post("/api/submissions", {"name": "Reviewed"}, format="json").json()
    sid = sid["submission"]["id"]
    client.patch(f"/api/submissions/{sid}", DATASHEET, format="json")
    upload_bytes(client, sid, make_archive(2_000, seed=b"review"))
    client.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
    submission = Submission.objects.get(public_id=sid)
    assert submission.status == Submission.Status.IN_REVIEW
    page = browser(provider.user).get(url(submission)).content.decode()
    assert "its shares are locked until staff decide" in page
    assert 'name="rows-TOTAL_FORMS"' not in page and "Import and save" not in page
    response = browser(provider.user).post(url(submission), editor_post(organization="100"))
    assert response.status_code == 403 and "locked until staff decide" in response.content.decode()


def test_a_published_dataset_shows_each_contributor_s_invitation(
    provider, django_capture_on_commit_callbacks
):
    client = api(provider.secret)
    sid = client.post("/api/submissions", {"name": "Published"}, format="json").json()
    sid = sid["submission"]["id"]
    client.patch(f"/api/submissions/{sid}", DATASHEET, format="json")
    upload_bytes(client, sid, make_archive(2_000, seed=b"published"))
    submission = Submission.objects.get(public_id=sid)
    share_draft_set(
        actor=provider.actor,
        submission=submission,
        basis="percentage",
        shares=[
            {"organization": True, "percent": "50"},
            {"email": "ana@example.org", "name": "Ana", "percent": "30"},
            {"email": "ben@example.org", "name": "Ben", "percent": "20"},
        ],
    )
    client.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
    submission.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        submission_approve(submission=submission, actor=make_user(is_staff=True))
    token = claim_token(next(m for m in mail.outbox if m.to == ["ana@example.org"]).body)
    contributor_claim(token=token, user=verified_address(party().user, "ana@example.org"))

    html = browser(provider.user).get(url(submission)).content.decode()
    assert "In force now for" in html and "Version 1 of the dataset" in html
    assert re.search(r"ana@example.org</td>\s*<td>30.00</td>\s*<td><span[^>]*>Claimed</span>", html)
    assert re.search(r"ben@example.org</td>\s*<td>20.00</td>\s*<td><span[^>]*>Invited</span>", html)
    assert re.search(r"Claimed</span> 1</li>.*Invited</span> 1</li>", html, re.DOTALL)
    assert "Applied" in html and "became version 1 of the dataset" in html
    # Published: the next version's table can be staged here.
    assert 'name="rows-TOTAL_FORMS"' in html and "approve its next version" in html


def test_owners_need_two_factor_when_the_setting_says_so(owner, settings):
    settings.WEB_OWNER_MFA_REQUIRED = True
    client, submission = owner
    response = client.post(url(submission), editor_post(organization="100"))
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/"
    assert not ShareTableDraft.objects.exists()
