"""Issue 11, security findings 6 and 8: what a provider reads about its checks never names
another organisation's dataset or files, nor an internal address (clamd, storage); staff read
both. The malware scan is required in production settings, and a partial scan is a warning."""

import json

import pytest
from django.test import Client

from devtools.processes import free_port
from marketplace.actors import actor_for_key
from marketplace.ingestion import ClamdClient, Status, inspect_archive
from marketplace.models import CheckResult, CheckRun, Submission
from marketplace.services.findings import provider_safe
from marketplace.services.ingestion import check_run_fail, submission_checks_conclude
from marketplace.services.review import submission_approve
from marketplace.services.submissions import submission_after_submit, submission_submit
from tests.catalogue_helpers import DATASHEET, api, make_archive, upload_bytes
from tests.factories import make_key, make_user
from tests.foundation.test_deploy_check import manage, production_env
from tests.ingestion.corpus import OnceReader, targz

pytestmark = pytest.mark.django_db


def submit(secret, data, name="Checked") -> tuple:
    client = api(secret)
    sid = client.post("/api/submissions", {"name": name}, format="json").json()["submission"]["id"]
    assert client.patch(f"/api/submissions/{sid}", DATASHEET, format="json").status_code == 200
    upload_bytes(client, sid, data)
    response = client.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
    assert response.status_code == 200, response.json()
    return client, sid


def provider_view(client, sid) -> str:
    """Everything the provider can read about the submission's checks, as one string."""
    checks = client.get(f"/api/submissions/{sid}/checks")
    submission = client.get(f"/api/submissions/{sid}")
    assert checks.status_code == 200 and submission.status_code == 200
    return json.dumps([checks.json(), submission.json()])


def test_a_duplicate_of_another_organisations_dataset_is_not_named_to_the_provider():
    data = make_archive()
    first_secret, _ = make_key(uploads=True)
    _, first_sid = submit(first_secret, data, name="Breton folk songs")
    version = submission_approve(
        submission=Submission.objects.get(public_id=first_sid), actor=make_user(is_staff=True)
    )
    dataset = version.dataset

    other_secret, _ = make_key(uploads=True)
    client, sid = submit(other_secret, data)
    assert Submission.objects.get(public_id=sid).status == Submission.Status.DRAFT
    seen = provider_view(client, sid)
    assert "duplicate of a published dataset" in seen
    for secret_of_the_other in (dataset.public_id, dataset.slug, version.filename, dataset.name):
        assert secret_of_the_other not in seen
    # Staff read which dataset it duplicates, in the stored result and on the admin page.
    result = CheckResult.objects.get(run__submission__public_id=sid, name="duplicate_archive")
    assert result.status == CheckResult.Status.FAIL and result.details == {}
    assert result.staff_details["dataset"] == dataset.public_id
    assert result.staff_details["filename"] == version.filename
    admin = Client()
    admin.force_login(make_user(is_staff=True, is_superuser=True))
    page = admin.get(f"/admin/marketplace/checkrun/{result.run_id}/change/")
    assert page.status_code == 200
    assert dataset.public_id in page.content.decode()


def test_a_duplicate_of_the_organisations_own_dataset_is_named():
    secret, key = make_key(uploads=True)
    data = make_archive()
    _, sid = submit(secret, data)
    version = submission_approve(
        submission=Submission.objects.get(public_id=sid), actor=make_user(is_staff=True)
    )
    client, sid2 = submit(secret, data)
    seen = provider_view(client, sid2)
    assert version.filename in seen and version.dataset.public_id in seen


def test_an_unreachable_scanner_is_reported_without_its_address(settings):
    settings.CLAMD_URL = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    secret, _ = make_key(uploads=True)
    client, sid = submit(secret, make_archive())
    seen = provider_view(client, sid)
    malware = CheckResult.objects.get(run__submission__public_id=sid, name="malware")
    assert malware.status == CheckResult.Status.ERROR
    assert "malware scanner" in malware.summary
    assert settings.CLAMD_URL not in seen and "tcp://" not in seen and "127.0.0.1" not in seen
    assert malware.staff_details["clamd"] == settings.CLAMD_URL
    assert "127.0.0.1" in malware.staff_details["clamd_error"]


def test_a_failed_inspection_is_reported_without_the_storage_address():
    secret, key = make_key(uploads=True)
    client = api(secret)
    sid = client.post("/api/submissions", {"name": "n"}, format="json").json()["submission"]["id"]
    client.patch(f"/api/submissions/{sid}", DATASHEET, format="json")
    upload_bytes(client, sid, make_archive())
    # Submitted through the services: the run stays queued, and fails as the task does after
    # its retries, with botocore's message naming the endpoint.
    submission = submission_submit(actor=actor_for_key(key), submission_id=sid, agree=True)
    submission_after_submit(submission_pk=submission.pk)
    run = CheckRun.objects.get(submission=submission)
    endpoint = "http://storage.internal:9000/datacollective/uploads/1/x.tar.gz"
    error = f'EndpointConnectionError: Could not connect to the endpoint URL: "{endpoint}"'
    check_run_fail(run_pk=run.pk, error=error)
    submission_checks_conclude(submission_pk=submission.pk)
    seen = provider_view(client, sid)
    assert "could not run" in seen
    assert "storage.internal" not in seen and "http://" not in seen
    assert run.results.get().staff_details == {"error": error}


def test_urls_in_any_finding_are_hidden_from_the_provider():
    details = {"findings": [{"message": "a: failed (see tcp://10.0.0.5:3310/x)"}], "n": 3}
    assert provider_safe(details) == {
        "findings": [{"message": "a: failed (see <internal address>)"}],
        "n": 3,
    }


def test_a_partial_scan_is_a_warning_not_a_pass(clamd_url):
    client = ClamdClient(clamd_url, max_stream_bytes=1000)
    report = inspect_archive(OnceReader(targz([("big.txt", b"x" * 5000 + b"\n")])), clamd=client)
    malware = report.check("malware")
    assert malware.status == Status.WARN and report.status == Status.WARN
    assert "first 1000 bytes" in malware.summary
    assert malware.details["partially_scanned_members"] == ["big.txt"]
    assert "clamd" not in malware.details and malware.internal["clamd"] == clamd_url


@pytest.mark.parametrize("value", [None, "", "http://clamd:3310"], ids=["unset", "empty", "http"])
def test_production_refuses_to_start_without_a_clamd_url(value):
    result = manage("check", env=production_env(CLAMD_URL=value))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "ImproperlyConfigured" in output and "CLAMD_URL" in output, output


def test_production_starts_with_a_clamd_url():
    result = manage("check", env=production_env(CLAMD_URL="unix:///run/clamav/clamd.ctl"))
    assert result.returncode == 0, result.stdout + result.stderr
