"""The ingestion pipeline end to end: submit → checking → in_review or back to draft, with the
archive read from the real S3 server by the real inspector; results through the API."""

import gzip
import hashlib
import io
import tarfile

import pytest

from marketplace.actors import actor_for_key
from marketplace.models import CheckResult, CheckRun, Submission, VersionMember
from marketplace.services.errors import Conflict, Invalid
from marketplace.services.ingestion import check_runs_requeue_stale
from marketplace.services.members import member_digests_published_elsewhere
from marketplace.services.review import submission_approve
from tests.catalogue_helpers import DATASHEET, api, make_archive, upload_bytes, wav_bytes
from tests.factories import make_key, make_user

pytestmark = pytest.mark.django_db


def tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def submit(secret, data, *, checksum=None, sample=None, **datasheet):
    client = api(secret)
    sid = client.post("/api/submissions", {"name": "Checked speech"}, format="json").json()[
        "submission"
    ]["id"]
    assert (
        client.patch(
            f"/api/submissions/{sid}", {**DATASHEET, **datasheet}, format="json"
        ).status_code
        == 200
    )
    upload, body = upload_bytes(client, sid, data, complete=False)
    if checksum:
        body["checksum"] = checksum
    assert (
        client.post(f"/api/uploads/{upload['fileUploadId']}", body, format="json").status_code
        == 200
    )
    if sample is not None:
        upload_bytes(
            client, sid, sample, base=f"/api/submissions/{sid}/sample", filename="s.tar.gz"
        )
    response = client.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["submission"]["status"] == "submitted"
    return client, sid


def checks(client, sid):
    response = client.get(f"/api/submissions/{sid}/checks")
    assert response.status_code == 200
    return response.json()


def results_by_name(run: dict) -> dict:
    return {r["name"]: r for r in run["results"]}


def test_clean_archive_goes_to_review_and_publishes_verified():
    secret, _ = make_key(uploads=True)
    data = make_archive(300_000)
    client, sid = submit(secret, data, sample=make_archive(2000))
    body = checks(client, sid)
    assert body["status"] == "in_review"
    assert len(body["runs"]) == 2  # the archive and the sample
    dataset_run = next(r for r in body["runs"] if r["kind"] == "dataset")
    assert dataset_run["status"] in ("passed", "warned")
    assert dataset_run["verifiedChecksum"] == hashlib.sha256(data).hexdigest()
    names = set(results_by_name(dataset_run))
    assert {
        "integrity",
        "archive_safety",
        "manifest",
        "formats",
        "statistics",
        "personal_data",
        "duplicates",
        "malware",
        "duplicate_archive",
    } <= names
    assert results_by_name(dataset_run)["integrity"]["status"] == "pass"

    version = submission_approve(
        submission=Submission.objects.get(public_id=sid), actor=make_user(is_staff=True)
    )
    assert version.sha256_verified is True
    card = api().get(f"/api/datasets/{version.dataset.public_id}").json()
    assert card["checksum"] == hashlib.sha256(data).hexdigest()
    assert card["checksumVerified"] is True
    assert card["statistics"]


def test_wrong_declared_checksum_sends_the_submission_back_with_the_reason():
    secret, _ = make_key(uploads=True)
    client, sid = submit(secret, make_archive(), checksum="0" * 64)
    body = checks(client, sid)
    assert body["status"] == "draft"
    run = body["runs"][0]
    assert run["status"] == "failed"
    assert results_by_name(run)["integrity"]["status"] == "fail"
    assert run["verifiedChecksum"] is None
    submission = client.get(f"/api/submissions/{sid}").json()["submission"]
    assert submission["reviewNote"].startswith("Automatic checks failed")
    # Nothing unverified can be published (it is not even in review).
    with pytest.raises(Conflict):
        submission_approve(
            submission=Submission.objects.get(public_id=sid), actor=make_user(is_staff=True)
        )


def test_personal_data_is_a_warning_unless_the_datasheet_says_there_is_none():
    secret, _ = make_key(uploads=True)
    tsv = b"path\tsentence\nclips/a.wav\tWrite to jane.doe@example.org today\n"
    archive = tar_gz({"index.tsv": tsv, "clips/a.wav": wav_bytes(4000)})
    client, sid = submit(secret, archive)
    run = checks(client, sid)["runs"][0]
    assert results_by_name(run)["personal_data"]["status"] == "warn"
    assert checks(client, sid)["status"] == "in_review"
    assert "jane.doe@example.org" not in str(results_by_name(run)["personal_data"])  # redacted

    archive2 = tar_gz(
        {"index.tsv": tsv.replace(b"today", b"tomorrow"), "clips/a.wav": wav_bytes(4000)}
    )
    client, sid = submit(secret, archive2, containsPersonalData=False)
    body = checks(client, sid)
    assert results_by_name(body["runs"][0])["personal_data"]["status"] == "fail"
    assert body["status"] == "draft"


def test_archive_identical_to_a_published_version_of_another_dataset_fails():
    secret, _ = make_key(uploads=True)
    data = make_archive()
    client, sid = submit(secret, data)
    submission_approve(
        submission=Submission.objects.get(public_id=sid), actor=make_user(is_staff=True)
    )
    other_secret, _ = make_key(uploads=True)
    client2, sid2 = submit(other_secret, data)
    body = checks(client2, sid2)
    assert body["status"] == "draft"
    assert results_by_name(body["runs"][0])["duplicate_archive"]["status"] == "fail"


def test_checks_are_private_to_the_organisation():
    secret, _ = make_key(uploads=True)
    client, sid = submit(secret, make_archive())
    other, _ = make_key(uploads=True)
    assert api(other).get(f"/api/submissions/{sid}/checks").status_code == 404


def test_storage_down_retries_then_records_a_clear_error(settings):
    from devtools.processes import free_port

    secret, _ = make_key(uploads=True)
    client = api(secret)
    sid = client.post("/api/submissions", {"name": "n"}, format="json").json()["submission"]["id"]
    client.patch(f"/api/submissions/{sid}", DATASHEET, format="json")
    upload_bytes(client, sid, make_archive())
    real = settings.AWS_S3_ENDPOINT_URL
    settings.AWS_S3_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    try:
        client.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
    finally:
        settings.AWS_S3_ENDPOINT_URL = real
    run = CheckRun.objects.get(submission__public_id=sid)
    assert run.status == CheckRun.Status.ERROR
    assert run.attempts == 6  # the first try and five retries
    error = run.results.get()
    assert error.status == CheckResult.Status.ERROR and "could not run" in error.summary
    # Never stuck in checking: staff see it in review, and cannot approve an unverified file.
    assert Submission.objects.get(public_id=sid).status == Submission.Status.IN_REVIEW
    with pytest.raises(Invalid):
        submission_approve(
            submission=Submission.objects.get(public_id=sid), actor=make_user(is_staff=True)
        )


def test_stale_runs_are_requeued_and_complete_once(settings):
    from django.test import TestCase
    from django.utils import timezone

    from marketplace.services.submissions import submission_after_submit, submission_submit

    secret, key = make_key(uploads=True)
    client = api(secret)
    sid = client.post("/api/submissions", {"name": "n"}, format="json").json()["submission"]["id"]
    client.patch(f"/api/submissions/{sid}", DATASHEET, format="json")
    upload_bytes(client, sid, make_archive())
    # Submit through the services outside the committing client: the after-commit tasks are
    # never sent, as if the broker had lost them. The run is queued and nobody works on it.
    submission = submission_submit(actor=actor_for_key(key), submission_id=sid, agree=True)
    submission_after_submit(submission_pk=submission.pk)
    run = CheckRun.objects.get(submission=submission)
    assert run.status == CheckRun.Status.QUEUED
    assert check_runs_requeue_stale() == 0  # not stale yet
    CheckRun.objects.filter(pk=run.pk).update(
        updated_at=timezone.now()
        - timezone.timedelta(seconds=settings.INGESTION_QUEUED_STALE_SECONDS + 1)
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert check_runs_requeue_stale() == 1
    run.refresh_from_db()
    assert run.status in (CheckRun.Status.PASSED, CheckRun.Status.WARNED)
    assert run.attempts == 1
    assert run.results.count() == len(set(run.results.values_list("name", flat=True)))
    assert Submission.objects.get(public_id=sid).status == Submission.Status.IN_REVIEW
    assert check_runs_requeue_stale() == 0


def test_the_sweep_requeues_a_running_run_only_when_its_heartbeat_is_stale(settings):
    """A running run whose heartbeat (updated_at) is fresher than INGESTION_STALE_SECONDS is
    left alone, however long it has been running; a stale one (its worker died) is queued
    again and finished by a new attempt."""
    from django.utils import timezone

    from marketplace.services.submissions import submission_after_submit, submission_submit

    secret, key = make_key(uploads=True)
    client = api(secret)
    sid = client.post("/api/submissions", {"name": "n"}, format="json").json()["submission"]["id"]
    client.patch(f"/api/submissions/{sid}", DATASHEET, format="json")
    upload_bytes(client, sid, make_archive())
    submission = submission_submit(actor=actor_for_key(key), submission_id=sid, agree=True)
    submission_after_submit(submission_pk=submission.pk)  # its task is never sent
    run = CheckRun.objects.get(submission=submission)
    now = timezone.now()
    fresh = now - timezone.timedelta(seconds=settings.INGESTION_STALE_SECONDS - 5)
    CheckRun.objects.filter(pk=run.pk).update(
        status=CheckRun.Status.RUNNING,
        started_at=now - timezone.timedelta(hours=5),
        attempts=1,
        updated_at=fresh,
    )
    assert check_runs_requeue_stale(now=now) == 0
    run.refresh_from_db()
    assert (run.status, run.attempts) == (CheckRun.Status.RUNNING, 1)

    stale = now - timezone.timedelta(seconds=settings.INGESTION_STALE_SECONDS + 5)
    CheckRun.objects.filter(pk=run.pk).update(updated_at=stale)
    assert check_runs_requeue_stale(now=now) == 1  # requeued; the eager worker finishes it
    run.refresh_from_db()
    assert run.status in (CheckRun.Status.PASSED, CheckRun.Status.WARNED)
    assert run.attempts == 2
    assert run.results.count() == len(set(run.results.values_list("name", flat=True)))


def test_croissant_metadata_validates_with_mlcroissant():
    mlc = pytest.importorskip("mlcroissant")
    secret, _ = make_key(uploads=True)
    data = make_archive(50_000)
    client, sid = submit(
        secret,
        data,
        other="Recorded by volunteers in 2025.",
        intendedUsage="Speech recognition research.",
    )
    version = submission_approve(
        submission=Submission.objects.get(public_id=sid), actor=make_user(is_staff=True)
    )
    response = api().get(f"/api/datasets/{version.dataset.public_id}/croissant")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/ld+json")
    document = response.json()
    archive = next(d for d in document["distribution"] if d["@id"] == "archive")
    assert archive["sha256"] == hashlib.sha256(data).hexdigest()
    assert any(d["@type"] == "cr:FileSet" for d in document["distribution"])
    assert document["recordSet"] and document["recordSet"][0]["field"]
    assert document["rai:dataCollection"] == "Recorded by volunteers in 2025."
    dataset = mlc.Dataset(jsonld=document)  # raises on any validation error
    assert not dataset.metadata.ctx.issues.errors, dataset.metadata.ctx.issues.report()


def test_member_overlap_with_published_versions_is_reported():
    secret, _ = make_key(uploads=True)
    shared = wav_bytes(6000)
    client, sid = submit(
        secret, tar_gz({"index.tsv": b"path\tsentence\na.wav\thi\n", "a.wav": shared})
    )
    submission_approve(
        submission=Submission.objects.get(public_id=sid), actor=make_user(is_staff=True)
    )
    other, _ = make_key(uploads=True)
    client2, sid2 = submit(
        other, tar_gz({"idx.tsv": b"path\tsentence\nb.wav\tho\n", "b.wav": shared})
    )
    duplicates = results_by_name(checks(client2, sid2)["runs"][0])["duplicates"]
    assert duplicates["details"]["known_members"] == 1
    assert duplicates["details"]["overlap_percent"] == 50


def test_publishing_records_every_member_of_the_version_once():
    secret, _ = make_key(uploads=True)
    members = {"index.tsv": b"path\tsentence\na.wav\thi\n", "a.wav": wav_bytes(4000)}
    _, sid = submit(secret, tar_gz(members))
    version = submission_approve(
        submission=Submission.objects.get(public_id=sid), actor=make_user(is_staff=True)
    )
    rows = sorted(
        VersionMember.objects.filter(version=version).values_list("path", "size", "sha256")
    )
    assert rows == sorted(
        (name, len(payload), hashlib.sha256(payload).hexdigest())
        for name, payload in members.items()
    )
    assert set(
        VersionMember.objects.filter(version=version).values_list("dataset_id", flat=True)
    ) == {version.dataset_id}
    # the dataset's own members are not duplicates of itself (a new version of the same dataset)
    digest = hashlib.sha256(members["a.wav"]).hexdigest()
    assert (
        member_digests_published_elsewhere(digests=[digest], exclude_dataset_id=version.dataset_id)
        == set()
    )
    assert member_digests_published_elsewhere(digests=[digest], exclude_dataset_id=None) == {digest}
