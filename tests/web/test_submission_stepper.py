"""The submission stepper's server side: new → datasheet → license and price → submit → the
status page, saving through the same services as the API; bad input shown next to the field and
nothing saved; another organisation's submission is 404; a member without upload rights sees why."""

import pytest
from django.test import Client

from marketplace.models import Submission
from marketplace.services.review import submission_reject
from tests.catalogue_helpers import DATASHEET, api, make_archive, upload_bytes
from tests.factories import make_key, make_org, make_user

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner():
    """An approved organisation's owner: (browser, user, key secret)."""
    secret, key = make_key(uploads=True)
    return browser(key.user), key.user, secret


def datasheet_post(**changes):
    values = {
        "name": "Welsh read speech",
        "shortDescription": "Read speech in Welsh.",
        "longDescription": "Sentences read by volunteers.",
        "task": "ASR",
        "locale": "cy-GB",
        "format": "TSV",
    }
    return {**values, **changes}


def test_new_submission_then_each_step_saves_through_the_services(
    owner, django_capture_on_commit_callbacks
):
    client, user, secret = owner
    created = client.post("/submissions/new", {"name": "Welsh read speech"})
    submission = Submission.objects.get(name="Welsh read speech")
    assert created["Location"] == f"/submissions/{submission.public_id}/files"

    url = f"/submissions/{submission.public_id}"
    page = client.get(f"{url}/datasheet").content.decode()
    assert "Still needed before you can submit" in page and "Short description" in page
    saved = client.post(f"{url}/datasheet", {**datasheet_post(), "then": "license"})
    assert saved["Location"] == f"{url}/license"
    submission.refresh_from_db()
    assert (submission.task, submission.locale, submission.short_description) == (
        "ASR",
        "cy-GB",
        "Read speech in Welsh.",
    )

    license_page = client.post(
        f"{url}/license",
        {
            "licenseAbbreviation": "CC-BY-4.0",
            "visibility": "public",
            "isPaid": "on",
            "basePriceCents": "1000",
            "currency": "usd",
            "then": "license",
        },
        follow=True,
    ).content.decode()
    submission.refresh_from_db()
    assert (submission.license_abbreviation, submission.is_paid, submission.base_price_cents) == (
        "CC-BY-4.0",
        True,
        1000,
    )
    # The buyer's total comes from the API's pricing code: 1000 + 5 % = 1050.
    assert '<strong><data value="1050" class="amount">10.50 USD</data></strong> (1050 cents)' in (
        license_page
    )
    assert "Commercial use" in license_page
    assert "DATA COLLECTIVE DATASET TERMS" in license_page

    # Without the archive, submit is not offered; the status page says what is missing.
    assert "A completed dataset upload" in client.get(f"{url}/submit").content.decode()
    upload_bytes(api(secret), submission.public_id, make_archive(3_000, seed=b"web"))
    submit_page = client.get(f"{url}/submit").content.decode()
    assert "Submit for review" in submit_page
    refused = client.post(f"{url}/submit", {})
    assert refused.status_code == 400 and b"This field is required" in refused.content
    with django_capture_on_commit_callbacks(execute=True):  # the checks run (eager Celery)
        done = client.post(f"{url}/submit", {"agree": "on"}, follow=True)
    assert done.redirect_chain[-1][0] == url
    submission.refresh_from_db()
    assert submission.status == Submission.Status.IN_REVIEW
    status_page = client.get(url).content.decode()
    assert "Automatic checks" in status_page and "Passed" in status_page


def test_bad_datasheet_input_is_shown_next_to_the_field_and_nothing_is_saved(owner):
    client, _, secret = owner
    sid = api(secret).post("/api/submissions", {"name": "Keep me"}, format="json").json()
    sid = sid["submission"]["id"]
    response = client.post(
        f"/submissions/{sid}/datasheet",
        datasheet_post(name="Keep me", shortDescription="x" * 501, locale="not a locale!"),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "at most 500 characters" in html
    submission = Submission.objects.get(public_id=sid)
    assert submission.short_description == "" and submission.locale == ""


def test_a_price_the_service_refuses_is_shown_at_the_price(owner):
    client, _, secret = owner
    sid = api(secret).post("/api/submissions", {"name": "Cheap"}, format="json").json()
    sid = sid["submission"]["id"]
    response = client.post(
        f"/submissions/{sid}/license",
        {
            "licenseAbbreviation": "CC-BY-4.0",
            "visibility": "public",
            "isPaid": "on",
            "basePriceCents": "10",
            "currency": "usd",
        },
    )
    assert response.status_code == 400
    assert "must be between 50 and" in response.content.decode()
    assert Submission.objects.get(public_id=sid).is_paid is False


def test_another_organisations_submission_is_404(owner):
    _, _, secret = owner
    sid = api(secret).post("/api/submissions", {"name": "Mine"}, format="json").json()
    sid = sid["submission"]["id"]
    stranger, stranger_owner = make_org(uploads=True)
    client = browser(stranger_owner)
    for step in ("", "/datasheet", "/license", "/submit"):
        assert client.get(f"/submissions/{sid}{step}").status_code == 404
    assert client.post(f"/submissions/{sid}/datasheet", datasheet_post()).status_code == 404
    assert client.post(f"/submissions/{sid}/delete").status_code == 404
    assert Submission.objects.get(public_id=sid).name == "Mine"


def test_an_organisation_without_upload_access_is_told_why():
    org, user = make_org()
    page = browser(user).get("/submissions/new").content.decode()
    assert "not approved to publish datasets yet" in page
    response = browser(user).post("/submissions/new", {"name": "No"})
    assert response.status_code == 400 and "not approved to upload" in response.content.decode()
    assert not Submission.objects.filter(organization=org).exists()


def test_rejected_submission_shows_the_reviewers_note(owner):
    client, _, secret = owner
    provider = api(secret)
    sid = provider.post("/api/submissions", {"name": "Noisy"}, format="json").json()
    sid = sid["submission"]["id"]
    provider.patch(f"/api/submissions/{sid}", DATASHEET, format="json")
    upload_bytes(provider, sid, make_archive(2_000, seed=b"noisy"))
    provider.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
    submission = Submission.objects.get(public_id=sid)
    assert submission.status == Submission.Status.IN_REVIEW
    in_review = client.get(f"/submissions/{sid}").content.decode()
    assert "In review" in in_review and "timeline-current" in in_review
    submission_reject(
        submission=submission,
        actor=make_user(is_staff=True),
        reason="The audio is clipped in half the files.",
    )
    page = client.get(f"/submissions/{sid}").content.decode()
    assert "Rejected by the reviewer" in page and "The audio is clipped" in page


def test_owners_need_two_factor_before_changing_the_price_when_the_setting_says_so(owner, settings):
    settings.WEB_OWNER_MFA_REQUIRED = True
    client, _, secret = owner
    sid = api(secret).post("/api/submissions", {"name": "Priced"}, format="json").json()
    sid = sid["submission"]["id"]
    response = client.post(
        f"/submissions/{sid}/license",
        {
            "licenseAbbreviation": "CC-BY-4.0",
            "visibility": "public",
            "isPaid": "on",
            "basePriceCents": "1000",
            "currency": "usd",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/"
    assert Submission.objects.get(public_id=sid).is_paid is False
    assert b"two-factor" in client.get("/accounts/2fa/").content


def test_a_failing_check_is_explained_with_what_to_do(owner):
    client, _, secret = owner
    provider = api(secret)
    sid = provider.post("/api/submissions", {"name": "Broken"}, format="json").json()
    sid = sid["submission"]["id"]
    provider.patch(f"/api/submissions/{sid}", DATASHEET, format="json")
    upload_bytes(provider, sid, b"this is not a gzip archive at all" * 100)
    provider.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
    page = client.get(f"/submissions/{sid}").content.decode()
    assert "Automatic checks" in page and "status-rejected" in page
    assert "What to do:" in page


def test_the_submissions_list_takes_the_same_queries_for_one_or_many(owner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client, _, secret = owner
    provider = api(secret)
    provider.post("/api/submissions", {"name": "First"}, format="json")
    client.get("/submissions")  # the first visit stores the organisation picked in the session

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/submissions").status_code == 200
        return len(ctx.captured_queries)

    one = queries()
    for n in range(6):
        provider.post("/api/submissions", {"name": f"More {n}"}, format="json")
    assert queries() == one


def test_a_member_cannot_change_the_price_but_can_edit_the_datasheet(owner):
    _, _, secret = owner
    from marketplace.models import Membership

    sid = api(secret).post("/api/submissions", {"name": "Shared"}, format="json").json()
    sid = sid["submission"]["id"]
    submission = Submission.objects.get(public_id=sid)
    member = make_user()
    Membership.objects.create(user=member, organization=submission.organization)
    client = browser(member)
    refused = client.post(
        f"/submissions/{sid}/license",
        {
            "licenseAbbreviation": "CC-BY-4.0",
            "visibility": "public",
            "isPaid": "on",
            "basePriceCents": "1000",
            "currency": "usd",
        },
    )
    assert refused.status_code == 400
    assert "only an owner of the organisation can change the price" in refused.content.decode()
    submission.refresh_from_db()
    assert (submission.is_paid, submission.license_abbreviation) == (False, "")
    saved = client.post(f"/submissions/{sid}/datasheet", datasheet_post(name="Shared"))
    assert saved.status_code == 302
    submission.refresh_from_db()
    assert submission.locale == "cy-GB"


def test_the_missing_list_follows_the_form_while_typing_and_saves_nothing(owner):
    client, _, secret = owner
    sid = api(secret).post("/api/submissions", {"name": "Live"}, format="json").json()
    sid = sid["submission"]["id"]
    url = f"/submissions/{sid}/datasheet?missing=1"
    empty = client.post(url, {"name": "Live"}, HTTP_HX_REQUEST="true").content.decode()
    assert empty.startswith("{# ") is False and 'id="missing"' in empty
    assert "Short description" in empty and "Locale" in empty
    typed = client.post(
        url, datasheet_post(name="Live", locale="not a locale!"), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Short description" not in typed and "Task" not in typed
    assert "Locale" in typed  # an invalid value does not count
    assert "A completed dataset upload" in typed
    submission = Submission.objects.get(public_id=sid)
    assert (submission.short_description, submission.task) == ("", "")
