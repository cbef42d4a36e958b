"""The unmodified official `datacollective` SDK (0.7.0) against our live server: the public
catalogue (E1–E3), submissions (E7–E10) and resumable multipart uploads (U1–U4, S1–S4), as a
provider and a buyer would use them. State is built through our services and API; only the
client side is interfered with (to interrupt an upload the way Ctrl-C would)."""

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import datacollective as dc
import pytest
import requests
from datacollective import (
    AuthenticationError,
    DatasetDetails,
    DatasetSubmission,
    License,
    ResourceRemovedError,
    Task,
    Visibility,
)
from django.db.models import F

from marketplace.models import Dataset, FileUpload, Submission
from marketplace.services.identity import organization_decide_upload_access
from marketplace.services.review import submission_approve
from marketplace.storage import bucket, s3_client
from tests.catalogue_helpers import make_archive, publish_dataset
from tests.factories import make_key, make_org, make_user

MiB = 1024 * 1024
PART = 5 * MiB  # the SDK's (and S3's) minimum part size

WELSH = "Welsh read speech"
GERMAN = "German radio interviews"
SWAHILI = "Swahili news corpus"
ENGLISH = "English customer dialogues"
BRETON = "Breton proverbs"
PRIVATE = "Internal call recordings"
LISTED = {WELSH, GERMAN, SWAHILI, ENGLISH, BRETON}


# --- helpers -----------------------------------------------------------------------------------


def write_archive(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    path.write_bytes(make_archive(size, seed=name.encode()))
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_sha256(upload: FileUpload) -> str:
    """SHA-256 of the object as the S3 server holds it."""
    body = s3_client().get_object(Bucket=bucket(), Key=upload.key)["Body"].read()
    return hashlib.sha256(body).hexdigest()


def state_file(archive: Path) -> Path:
    """Where the SDK keeps its resumable upload state by default."""
    return archive.with_name(archive.name + ".mdc-upload.json")


def names(result) -> set[str]:
    return {d.name for d in result.items}


def ordered(result) -> list[str]:
    return [d.name for d in result.items]


def draft(name: str) -> str:
    response = dc.create_submission_draft(DatasetSubmission(name=name))
    return response["submission"]["id"]


MINIMAL_SHEET = DatasetSubmission(
    shortDescription="A short description",
    longDescription="A longer description of the data.",
    locale="cy",
    task=Task.ASR,
    format="TSV",
    licenseAbbreviation=License.CC_BY_4_0,
    visibility=Visibility.PUBLIC,
)


class StoragePuts:
    """Wraps the part PUTs the SDK sends to storage (through `requests.Session.put`): records
    the part numbers that reached storage and can interrupt the upload like Ctrl-C does."""

    def __init__(self, monkeypatch):
        self.parts: list[int] = []
        self.interrupt_from: int | None = None
        original = requests.Session.put

        def put(session, url, data=None, **kwargs):
            number = int(parse_qs(urlparse(url).query)["partNumber"][0])
            if self.interrupt_from is not None and number >= self.interrupt_from:
                raise KeyboardInterrupt(f"interrupted while sending part {number}")
            response = original(session, url, data=data, **kwargs)
            self.parts.append(number)
            return response

        monkeypatch.setattr(requests.Session, "put", put)


@pytest.fixture
def storage_puts(monkeypatch) -> StoragePuts:
    return StoragePuts(monkeypatch)


def interrupted_upload(storage_puts, archive: Path, sid: str, *, at_part: int) -> dict:
    """Run `upload_dataset_file` one part at a time and press "Ctrl-C" while part `at_part`
    is being sent; returns the state file the SDK left behind."""
    storage_puts.interrupt_from = at_part
    with pytest.raises(KeyboardInterrupt):
        dc.upload_dataset_file(
            str(archive), sid, part_size=PART, max_workers=1, show_progress=False
        )
    storage_puts.interrupt_from = None
    return json.loads(state_file(archive).read_text())


# --- catalogue (E1–E3): public, no key ------------------------------------------------------


@pytest.fixture
def catalogue(mdc):
    """Six published datasets of two organisations (one private), built like production:
    provider API calls, presigned PUTs to S3, staff approval through the review service."""
    alice, _ = make_key(uploads=True)
    bob, _ = make_key(uploads=True)
    reviewer = make_user(is_staff=True)
    specs = [
        (
            alice,
            WELSH,
            40_000,
            True,
            {
                "shortDescription": "Volunteers reading aloud",
                "longDescription": "Recorded in Cardiff by volunteers.",
                "locale": "cy",
                "task": "ASR",
                "format": "TSV",
                "licenseAbbreviation": "CC-BY-4.0",
            },
        ),
        (
            alice,
            GERMAN,
            120_000,
            False,
            {
                "shortDescription": "Regional radio",
                "longDescription": "Interviews with spontaneous speech from regional radio.",
                "locale": "de-DE",
                "task": "ASR",
                "format": "WAV",
                "licenseAbbreviation": "CC0-1.0",
                "isPaid": True,
                "basePriceCents": 900,
            },
        ),
        (
            bob,
            SWAHILI,
            20_000,
            False,
            {
                "shortDescription": "News articles",
                "longDescription": "Articles from Tanzanian and Kenyan outlets.",
                "locale": "sw",
                "task": "NLP",
                "format": "TSV",
                "licenseAbbreviation": "MIT",
            },
        ),
        (
            bob,
            ENGLISH,
            80_000,
            True,
            {
                "shortDescription": "Support chats",
                "longDescription": "Anonymised customer support conversations.",
                "locale": "en",
                "task": "LLM",
                "format": "JSONL",
                "licenseAbbreviation": "Apache-2.0",
                "visibility": "restricted",
                "isPaid": True,
                "basePriceCents": 2500,
            },
        ),
        (
            bob,
            BRETON,
            60_000,
            False,
            {
                "shortDescription": "Sayings",
                "longDescription": "Traditional sayings collected in Finistère.",
                "locale": "br",
                "task": "NLP",
                "format": "CSV",
                "licenseAbbreviation": "CC-BY-SA-4.0",
            },
        ),
        (
            alice,
            PRIVATE,
            30_000,
            False,
            {
                "shortDescription": "Calls",
                "longDescription": "Internal speech recordings of calls.",
                "locale": "fr",
                "task": "ASR",
                "format": "FLAC",
                "licenseAbbreviation": "ODbL-1.0",
                "visibility": "private",
            },
        ),
    ]
    datasets = {}
    for secret, name, size, with_sample, sheet in specs:
        _, version = publish_dataset(
            secret,
            name=name,
            data=make_archive(size, seed=name.encode()),
            sample=make_archive(2_000) if with_sample else None,
            reviewer=reviewer,
            **sheet,
        )
        datasets[name] = version.dataset
    # No clock-control library is installed, so the one "old" dataset is made by moving its
    # first publication back 40 days (outside today/thisWeek/thisMonth, inside thisYear).
    Dataset.objects.filter(pk=datasets[BRETON].pk).update(
        published_at=F("published_at") - timedelta(days=40)
    )
    return {name: Dataset.objects.get(pk=d.pk) for name, d in datasets.items()}


def test_list_datasets_each_filter_and_sort(mdc, catalogue):
    everything = dc.list_datasets()
    assert everything.total == 5 and names(everything) == LISTED
    assert all(isinstance(d, DatasetDetails) and isinstance(d.id, str) for d in everything.items)

    # Free text: the name match (weight A) ranks above the long-description match.
    speech = dc.list_datasets("  speech ")
    assert speech.total == 2 and ordered(speech) == [WELSH, GERMAN]
    assert ordered(dc.list_datasets("speech", sort="relevance", sort_direction="asc")) == [
        GERMAN,
        WELSH,
    ]
    assert names(dc.list_datasets("speech", pricing="free")) == {WELSH}

    # Each filter alone; repeated values are OR-ed.
    assert names(dc.list_datasets(task=Task.ASR)) == {WELSH, GERMAN}
    assert names(dc.list_datasets(task=[Task.ASR, "NLP"])) == {WELSH, GERMAN, SWAHILI, BRETON}
    assert names(dc.list_datasets(locale="de-DE")) == {GERMAN}
    assert names(dc.list_datasets(locale=["cy", "sw"])) == {WELSH, SWAHILI}
    assert names(dc.list_datasets(license_abbr=License.CC0_1_0)) == {GERMAN}
    assert names(dc.list_datasets(license_abbr=["MIT", License.CC_BY_SA_4_0])) == {
        SWAHILI,
        BRETON,
    }
    assert names(dc.list_datasets(file_format="TSV")) == {WELSH, SWAHILI}
    assert names(dc.list_datasets(file_format=["WAV", "JSONL"])) == {GERMAN, ENGLISH}
    assert names(dc.list_datasets(has_sample=True)) == {WELSH, ENGLISH}
    assert names(dc.list_datasets(has_sample=False)) == LISTED  # False = no filter
    assert names(dc.list_datasets(pricing="compensated")) == {GERMAN, ENGLISH}
    assert names(dc.list_datasets(pricing="free")) == {WELSH, SWAHILI, BRETON}
    for window in ("today", "thisWeek", "thisMonth"):
        recent = dc.list_datasets(upload_date=window)
        assert names(recent) == LISTED - {BRETON}, window
        assert recent.total == 4, window
    assert names(dc.list_datasets(upload_date="thisYear")) == LISTED

    # Different keys are AND-ed.
    assert names(dc.list_datasets(task=Task.ASR, file_format="TSV")) == {WELSH}
    assert names(dc.list_datasets(task="NLP", locale="br", pricing="free")) == {BRETON}
    assert dc.list_datasets(task="NLP", pricing="compensated").total == 0

    # Sorting, both directions.
    by_size = dc.list_datasets(sort="size", sort_direction="desc")
    sizes = [d.sizeBytes for d in by_size.items]
    assert len(sizes) == 5 and sizes == sorted(sizes, reverse=True) and len(set(sizes)) == 5
    assert [d.sizeBytes for d in dc.list_datasets(sort="size", sort_direction="asc").items] == (
        sorted(sizes)
    )
    assert ordered(by_size)[0] == GERMAN and ordered(by_size)[-1] == SWAHILI
    newest = dc.list_datasets(sort="newest")
    created = [d.createdAt for d in newest.items]
    assert created == sorted(created, reverse=True) and ordered(newest)[-1] == BRETON
    oldest = dc.list_datasets(sort="newest", sort_direction="asc")
    assert ordered(oldest) == ordered(newest)[::-1]

    # Values the catalogue does not hold match nothing (200, not 400).
    for unknown in (
        {"task": "CV"},
        {"task": "NOT-A-TASK"},
        {"locale": "xx-YY"},
        {"license_abbr": "LicenseRef-nothing"},
        {"file_format": "PARQUET"},
        {"query": "zzqxjv"},
        {"locale": "fr"},  # only the private dataset has it
    ):
        empty = dc.list_datasets(**unknown)
        assert (empty.items, empty.total) == ([], 0), unknown


def test_list_datasets_paging_never_repeats_or_skips(mdc, catalogue):
    for sort in ("newest", "size", "relevance"):
        for direction in ("asc", "desc"):
            full = ordered(dc.list_datasets(sort=sort, sort_direction=direction))
            pages = []
            for page in range(1, 4):
                result = dc.list_datasets(
                    sort=sort, sort_direction=direction, results_per_page=2, page_number=page
                )
                assert result.total == 5
                assert len(result.items) == (2 if page < 3 else 1)
                pages.extend(ordered(result))
            assert pages == full, (sort, direction)
            assert len(set(pages)) == 5
            singles = [
                ordered(
                    dc.list_datasets(
                        sort=sort, sort_direction=direction, results_per_page=1, page_number=n
                    )
                )[0]
                for n in range(1, 6)
            ]
            assert singles == full, (sort, direction)

    # Paging a filtered result; past the end is empty with the real total.
    asr = [
        ordered(dc.list_datasets(task="ASR", results_per_page=1, page_number=n))[0] for n in (1, 2)
    ]
    assert set(asr) == {WELSH, GERMAN}
    for page in (4, 100):
        past = dc.list_datasets(results_per_page=2, page_number=page)
        assert (past.items, past.total) == ([], 5)
    past = dc.list_datasets(task="ASR", results_per_page=2, page_number=2)
    assert (past.items, past.total) == ([], 2)
    assert len(dc.list_datasets(results_per_page=100).items) == 5


def test_dataset_filters_and_details(mdc, catalogue):
    filters = dc.list_dataset_filters()
    assert filters.tasks == [t.value for t in Task]
    assert sorted(filters.locales) == sorted(["cy", "de-DE", "sw", "en", "br"])
    assert sorted(filters.licenses) == sorted(
        ["CC-BY-4.0", "CC0-1.0", "MIT", "Apache-2.0", "CC-BY-SA-4.0"]
    )
    assert sorted(filters.formats) == sorted(["TSV", "WAV", "JSONL", "CSV"])

    german = catalogue[GERMAN]
    version = german.latest_version
    by_id = dc.get_dataset_details(german.public_id)
    by_slug = dc.get_dataset_details(german.slug)
    assert by_id.model_dump() == by_slug.model_dump()
    assert by_id.id == german.public_id and by_id.slug == german.slug
    assert by_id.name == GERMAN and by_id.locale == "de-DE" and by_id.task == "ASR"
    assert by_id.format == "WAV" and by_id.licenseAbbreviation == "CC0-1.0"
    assert by_id.filename == f"{german.slug}-v1.tar.gz"
    assert by_id.checksum == version.sha256 and len(by_id.checksum) == 64
    assert by_id.sizeBytes == version.size_bytes
    assert by_id.pricing.isPaid is True and by_id.pricing.basePriceCents == 900
    assert by_id.pricing.currency == "usd" and isinstance(by_id.pricing.platformFeeRate, str)
    assert by_id.organization.name == german.organization.name
    # The listing carries the same object.
    card = dc.list_datasets(locale="de-DE").items[0]
    same = ("id", "slug", "name", "filename", "checksum", "sizeBytes", "pricing", "createdAt")
    assert {f: getattr(card, f) for f in same} == {f: getattr(by_id, f) for f in same}

    # A private dataset is unknown to anyone outside its organisation (the SDK asks E3 without
    # its key), by id as by slug (security finding 11); unknown ids are 404, not 410.
    private = catalogue[PRIVATE]
    with pytest.raises(FileNotFoundError) as excinfo:
        dc.get_dataset_details(private.public_id)
    assert not isinstance(excinfo.value, ResourceRemovedError)
    with pytest.raises(FileNotFoundError) as excinfo:
        dc.get_dataset_details(private.slug)
    assert not isinstance(excinfo.value, ResourceRemovedError)
    with pytest.raises(FileNotFoundError) as excinfo:
        dc.get_dataset_details("ds00000000000000000000")
    assert not isinstance(excinfo.value, ResourceRemovedError)


def test_out_of_range_page_size_is_400_with_message(mdc):
    # The SDK checks the range itself...
    for bad in (0, 101):
        with pytest.raises(ValueError):
            dc.list_datasets(results_per_page=bad)
    # ...so the server's own check is exercised with raw requests.
    for query in ("limit=0", "limit=101", "page=0", "sort=oldest", "pricing=cheap"):
        response = requests.get(f"{mdc.url}/datasets?{query}", timeout=30)
        assert response.status_code == 400, query
        body = response.json()
        assert isinstance(body["message"], str) and body["message"], query
        assert isinstance(body["error"], str) and body["error"], query
    for query in ("limit=1", "limit=100"):
        response = requests.get(f"{mdc.url}/datasets?{query}", timeout=30)
        assert response.status_code == 200, query
        assert (response.json()["items"], response.json()["total"]) == ([], 0), query


# --- submissions and uploads (E7–E10, U1–U4, S1–S4) -------------------------------------------

FULL_SHEET = dict(
    name="Welsh read speech, 2025 edition",
    shortDescription="Read speech in Welsh",
    longDescription="Ten hours of read speech, recorded by volunteers across Wales.",
    locale="cy-GB",
    task=Task.ASR,
    format="TSV",
    licenseAbbreviation="LicenseRef-Cymraeg-1",
    license="Cymraeg Open Speech Licence 1.0",
    licenseUrl="https://example.org/licences/cymraeg-1",
    other="## Datasheet\n\nMotivation, composition and collection process.",
    restrictions="No voice cloning.",
    forbiddenUsage="Speaker identification.",
    additionalConditions="Attribute the volunteers.",
    pointOfContactFullName="Ann Jones",
    pointOfContactEmail="ann@example.org",
    fundedByFullName="Welsh Language Fund",
    fundedByEmail="grants@example.org",
    legalContactFullName="Rhys Evans",
    legalContactEmail="legal@example.org",
    createdByFullName="Cardiff Speech Lab",
    createdByEmail="lab@example.org",
    intendedUsage="Training and evaluating Welsh ASR.",
    ethicalReviewProcess="Approved by the university ethics board.",
    showContactInfo=True,
    showComplianceAttributes=True,
    exclusivityOptOut=True,
    autoApproveAccessRequests=True,
    visibility=Visibility.RESTRICTED,
    isPaid=True,
    basePriceCents=1500,
)


def test_sdk_submission_upload_submit_and_publish(mdc, api_calls, tmp_path):
    secret, key = make_key(uploads=True)
    mdc.use_key(secret)

    created = dc.create_submission_draft(DatasetSubmission(name="Welsh read speech"))
    submission = created["submission"]
    sid = submission["id"]
    assert isinstance(sid, str) and submission["status"] == "draft"

    updated = dc.update_submission(sid, DatasetSubmission(**FULL_SHEET))["submission"]
    for field, value in FULL_SHEET.items():
        expected = value.value if hasattr(value, "value") else value
        assert updated[field] == expected, field
    assert updated["currency"] == "usd" and updated["status"] == "draft"
    # Idempotent: the same update again (create_submission_with_upload repeats it on resume).
    assert dc.update_submission(sid, DatasetSubmission(**FULL_SHEET))["submission"] == updated

    archive = write_archive(tmp_path, "welsh.tar.gz", 12 * MiB)
    size = archive.stat().st_size
    assert size > 2 * PART  # three parts of 5 MiB
    sample = write_archive(tmp_path, "welsh-sample.tar.gz", 100_000)
    api_calls.clear()
    state = dc.upload_dataset_file(str(archive), sid, part_size=PART, show_progress=False)
    assert state.checksum == sha256_of(archive) and state.fileSize == size
    assert [p.partNumber for p in state.parts] == [1, 2, 3]
    assert api_calls.count("POST", "/api/uploads") == 1
    assert api_calls.part_requests(state.fileUploadId) == [1, 2, 3]
    assert api_calls.count("POST", f"/api/uploads/{state.fileUploadId}") == 1
    assert not state_file(archive).exists()  # the SDK deletes it after completion

    sample_state = dc.upload_sample_file(str(sample), sid, show_progress=False)
    assert sample_state.isSample and len(sample_state.parts) == 1

    upload = FileUpload.objects.get(public_id=state.fileUploadId)
    assert upload.state == FileUpload.State.COMPLETED and upload.kind == "dataset"
    assert upload.stored_size == size and upload.parts_count == 3
    assert upload.declared_sha256 == sha256_of(archive) == stored_sha256(upload)
    sample_upload = FileUpload.objects.get(public_id=sample_state.fileUploadId)
    assert sample_upload.kind == "sample"
    assert stored_sha256(sample_upload) == sha256_of(sample)
    row = Submission.objects.get(public_id=sid)
    assert (row.file_upload_id, row.sample_upload_id) == (upload.pk, sample_upload.pk)

    submitted = dc.submit_submission(sid, DatasetSubmission(agreeToSubmit=True))["submission"]
    assert submitted["status"] == "submitted" and submitted["submittedAt"]
    assert submitted["fileUploadId"] == state.fileUploadId
    assert submitted["sampleFileReferenceId"] == sample_state.fileUploadId
    # Our after-submit hook (a Celery task run after commit) moved it on to review.
    row.refresh_from_db()
    assert row.status == Submission.Status.IN_REVIEW

    # Not in the catalogue before staff approval.
    assert dc.list_datasets(query="Welsh").total == 0

    version = submission_approve(submission=row, actor=make_user(is_staff=True))
    slug = version.dataset.slug
    listing = dc.list_datasets(query="Welsh")
    assert listing.total == 1 and listing.items[0].id == version.dataset.public_id
    assert dc.list_datasets(pricing="compensated", locale="cy-GB").total == 1
    for id_or_slug in (version.dataset.public_id, slug):
        details = dc.get_dataset_details(id_or_slug)
        assert details.filename == f"{slug}-v1.tar.gz"
        assert details.checksum == sha256_of(archive)
        assert details.sizeBytes == size
        assert details.name == FULL_SHEET["name"]
        assert details.licenseAbbreviation == "LicenseRef-Cymraeg-1"
        assert details.license == FULL_SHEET["license"]
        assert details.visibility == "restricted" and details.hasSample is True
        assert details.pricing.isPaid is True and details.pricing.basePriceCents == 1500


def test_sdk_resumes_an_interrupted_upload(mdc, api_calls, storage_puts, tmp_path):
    secret, _ = make_key(uploads=True)
    mdc.use_key(secret)
    sid = draft("Resumable")
    archive = write_archive(tmp_path, "big.tar.gz", 12 * MiB)

    api_calls.clear()
    left = interrupted_upload(storage_puts, archive, sid, at_part=3)
    upload_id = left["fileUploadId"]
    assert [p["partNumber"] for p in left["parts"]] == [1, 2]
    assert left["partSize"] == PART and left["checksum"] is None
    assert storage_puts.parts == [1, 2]
    assert api_calls.part_requests(upload_id) == [1, 2, 3]
    # The storage server holds exactly the parts the state file records.
    upload = FileUpload.objects.get(public_id=upload_id)
    stored = s3_client().list_parts(
        Bucket=bucket(), Key=upload.key, UploadId=upload.storage_upload_id
    )["Parts"]
    assert {p["PartNumber"]: p["ETag"].strip('"') for p in stored} == {
        p["partNumber"]: p["etag"] for p in left["parts"]
    }
    assert upload.state == FileUpload.State.UPLOADING

    # Run again (a part size given now is ignored: the state's is kept).
    api_calls.clear()
    storage_puts.parts.clear()
    state = dc.upload_dataset_file(str(archive), sid, part_size=8 * MiB, show_progress=False)
    assert state.fileUploadId == upload_id and state.partSize == PART
    assert api_calls.count("POST", "/api/uploads") == 0  # no new upload started
    assert api_calls.part_requests() == [3]  # only the missing part was asked for...
    assert storage_puts.parts == [3]  # ...and sent
    assert api_calls.count("POST", f"/api/uploads/{upload_id}") == 1
    assert not state_file(archive).exists()

    upload.refresh_from_db()
    assert upload.state == FileUpload.State.COMPLETED and upload.parts_count == 3
    assert upload.stored_size == archive.stat().st_size
    assert stored_sha256(upload) == sha256_of(archive) == upload.declared_sha256
    assert Submission.objects.get(public_id=sid).file_upload_id == upload.pk


def test_superseded_upload_is_gone_and_the_sdk_drops_its_state(
    mdc, api_calls, storage_puts, tmp_path
):
    secret, _ = make_key(uploads=True)
    mdc.use_key(secret)
    sid = draft("Superseded")
    first = write_archive(tmp_path, "first.tar.gz", 6 * MiB)
    left = interrupted_upload(storage_puts, first, sid, at_part=2)
    old_id = left["fileUploadId"]
    old = FileUpload.objects.get(public_id=old_id)
    assert len(left["parts"]) == 1

    # A new U1 for the same submission (here: the provider uploads a corrected file instead)
    # aborts the unfinished one, in our records and in storage.
    second = write_archive(tmp_path, "second.tar.gz", 50_000)
    new_state = dc.upload_dataset_file(str(second), sid, show_progress=False)
    old.refresh_from_db()
    assert old.state == FileUpload.State.ABORTED
    in_progress = s3_client().list_multipart_uploads(Bucket=bucket(), Prefix=old.key)
    assert old.storage_upload_id not in {u["UploadId"] for u in in_progress.get("Uploads", [])}

    response = requests.get(
        f"{mdc.url}/uploads/{old_id}/parts/2",
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )
    assert response.status_code == 410
    assert response.json()["message"] and response.json()["error"]

    # Resuming the old upload: 410 on the part URL, so the SDK deletes its state file...
    api_calls.clear()
    with pytest.raises(ResourceRemovedError):
        dc.upload_dataset_file(str(first), sid, part_size=PART, show_progress=False)
    assert api_calls.part_requests(old_id) == [2]
    assert not state_file(first).exists()

    # ...and the next run starts a fresh upload that completes.
    api_calls.clear()
    state = dc.upload_dataset_file(str(first), sid, part_size=PART, show_progress=False)
    assert state.fileUploadId not in (old_id, new_state.fileUploadId)
    assert api_calls.count("POST", "/api/uploads") == 1
    assert api_calls.part_requests(state.fileUploadId) == [1, 2]
    upload = FileUpload.objects.get(public_id=state.fileUploadId)
    assert stored_sha256(upload) == sha256_of(first) == upload.declared_sha256
    assert Submission.objects.get(public_id=sid).file_upload_id == upload.pk


def test_deleted_submission_is_gone_for_every_call(mdc, storage_puts, tmp_path):
    secret, _ = make_key(uploads=True)
    mdc.use_key(secret)
    kept = draft("Kept")
    doomed = draft("Doomed")
    archive = write_archive(tmp_path, "doomed.tar.gz", 6 * MiB)
    left = interrupted_upload(storage_puts, archive, doomed, at_part=2)

    assert dc.delete_submission(doomed) is None
    assert Submission.objects.get(public_id=doomed).status == Submission.Status.DELETED
    assert FileUpload.objects.get(public_id=left["fileUploadId"]).state == "aborted"

    # Resuming the upload of the deleted submission: 410, and the state file is dropped.
    with pytest.raises(ResourceRemovedError):
        dc.upload_dataset_file(str(archive), doomed, show_progress=False)
    assert not state_file(archive).exists()
    calls = {
        "update": lambda: dc.update_submission(doomed, DatasetSubmission(name="Again")),
        "submit": lambda: dc.submit_submission(doomed, DatasetSubmission(agreeToSubmit=True)),
        "delete": lambda: dc.delete_submission(doomed),
        "upload": lambda: dc.upload_dataset_file(str(archive), doomed, show_progress=False),
        "sample": lambda: dc.upload_sample_file(str(archive), doomed, show_progress=False),
    }
    for label, call in calls.items():
        with pytest.raises(ResourceRemovedError):
            call()
        assert not state_file(archive).exists(), label

    # The other draft is untouched.
    assert dc.update_submission(kept, MINIMAL_SHEET)["submission"]["status"] == "draft"


# --- who may upload ------------------------------------------------------------------------------


def test_bad_key_is_an_authentication_error(mdc, tmp_path):
    mdc.use_key("mdc_0000_not-a-real-key")
    with pytest.raises(AuthenticationError):
        dc.create_submission_draft(DatasetSubmission(name="Nope"))
    archive = write_archive(tmp_path, "a.tar.gz", 10_000)
    with pytest.raises(AuthenticationError):
        dc.upload_dataset_file(str(archive), "sub00000000000000000000", show_progress=False)
    with pytest.raises(AuthenticationError):
        dc.delete_submission("sub00000000000000000000")
    # Public endpoints never send the key, so they still work.
    assert dc.list_datasets().total == 0


def test_organisation_not_approved_for_uploads_is_refused(mdc):
    secret, _ = make_key(uploads=False)
    mdc.use_key(secret)
    with pytest.raises(PermissionError) as excinfo:
        dc.create_submission_draft(DatasetSubmission(name="Not yet"))
    assert "not approved" in str(excinfo.value)
    assert Submission.objects.count() == 0


def test_key_created_before_upload_approval_is_refused(mdc):
    org, owner = make_org(uploads=False)
    old_secret, _ = make_key(org=org, user=owner)
    organization_decide_upload_access(
        organization=org, approve=True, actor=make_user(is_staff=True)
    )
    new_secret, _ = make_key(org=org, user=owner)

    mdc.use_key(old_secret)
    with pytest.raises(PermissionError) as excinfo:
        dc.create_submission_draft(DatasetSubmission(name="Old key"))
    assert "before your organisation was approved" in str(excinfo.value)

    mdc.use_key(new_secret)
    sid = draft("New key")
    assert Submission.objects.get(public_id=sid).organization_id == org.pk

    # The old key stays refused on the new key's submission too.
    mdc.use_key(old_secret)
    with pytest.raises(PermissionError):
        dc.update_submission(sid, MINIMAL_SHEET)


def test_another_organisations_submission_is_not_found(mdc, tmp_path):
    owner_secret, _ = make_key(uploads=True)
    other_secret, _ = make_key(uploads=True)
    mdc.use_key(owner_secret)
    sid = draft("Ours")
    archive = write_archive(tmp_path, "ours.tar.gz", 10_000)
    owner_state = dc.upload_dataset_file(str(archive), sid, show_progress=False)

    mdc.use_key(other_secret)
    calls = {
        "update": lambda: dc.update_submission(sid, MINIMAL_SHEET),
        "submit": lambda: dc.submit_submission(sid, DatasetSubmission(agreeToSubmit=True)),
        "delete": lambda: dc.delete_submission(sid),
        "upload": lambda: dc.upload_dataset_file(str(archive), sid, show_progress=False),
        "sample": lambda: dc.upload_sample_file(str(archive), sid, show_progress=False),
    }
    for label, call in calls.items():
        with pytest.raises(FileNotFoundError) as excinfo:
            call()
        assert not isinstance(excinfo.value, (ResourceRemovedError, PermissionError)), label
        assert not state_file(archive).exists(), label
    # Another organisation's upload id is unknown too.
    response = requests.get(
        f"{mdc.url}/uploads/{owner_state.fileUploadId}/parts/1",
        headers={"Authorization": f"Bearer {other_secret}"},
        timeout=30,
    )
    assert response.status_code == 404 and response.json()["message"]

    row = Submission.objects.get(public_id=sid)
    assert row.status == Submission.Status.DRAFT and row.name == "Ours"
    assert FileUpload.objects.filter(submission=row).count() == 1
