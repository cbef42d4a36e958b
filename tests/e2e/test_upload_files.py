"""The "Files" step in Chromium: the uploader sends an archive straight to the moto server in
parts, survives a page reload half-way (the same file selected again sends only the parts storage
lacks), completes with the whole-file SHA-256, and refuses wrong files before a byte is sent."""

import hashlib
import re
from collections import Counter

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import Page, expect

from marketplace.actors import actor_for_member
from marketplace.models import FileUpload, Submission
from marketplace.services.submissions import submission_create
from marketplace.storage import bucket, s3_client
from tests.catalogue_helpers import MiB, make_archive
from tests.e2e.browser import assert_accessible, screenshot
from tests.e2e.uploads import Traffic, hold_hash_worker, hold_parts, part_number, wait_until
from tests.factories import make_org


@pytest.fixture
def owner(live_server, page: Page, storage_cors):
    """An organisation approved for uploads, its owner signed in in the browser (the session
    cookie of a Django test client that logged them in) and a new draft submission."""
    org, user = make_org(uploads=True)
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
    actor = actor_for_member(user=user, organization=org)
    submission = submission_create(actor=actor, name="Welsh read speech")
    return submission, client


def test_an_upload_resumes_after_a_reload_and_sends_only_the_missing_parts(
    live_server, page: Page, owner, tmp_path
):
    submission, session_client = owner
    data = make_archive(13 * MiB)  # 5 MiB + 5 MiB + 3 MiB: three parts
    archive = tmp_path / "welsh-speech.tar.gz"
    archive.write_bytes(data)

    traffic = Traffic(page)
    held = hold_parts(page, {3})

    url = f"{live_server.url}/submissions/{submission.public_id}/files"
    page.goto(url)
    slot = page.locator("#dataset-file-slot")
    expect(page.get_by_role("heading", name="Dataset archive")).to_be_visible()
    expect(slot).to_contain_text("Not uploaded")
    assert_accessible(page)

    page.get_by_label("Choose the dataset archive").set_input_files(archive)
    wait_until(page, lambda: traffic.stored == {1, 2} and held, what="parts 1, 2 stored, 3 held")
    expect(slot.get_by_role("button", name="Pause")).to_be_visible()
    expect(slot.get_by_role("button", name="Start over")).to_be_visible()
    expect(slot.locator("progress")).to_be_visible()
    expect(slot).to_contain_text("Uploading welsh-speech.tar.gz")
    # Two parts of three stored (10 of 13 MiB), the third on its way.
    expect(slot.locator('[data-role="numbers"]')).to_have_text(re.compile(r"^(7[6-9]|[89]\d)% · "))
    expect(slot.locator('[data-role="numbers"]')).to_contain_text("of 13.0 MB")
    assert_accessible(page)
    screenshot(page, "submission-files")
    (upload,) = FileUpload.objects.filter(submission=submission)
    listing = session_client.get(f"/api/uploads/{upload.public_id}/parts").json()
    assert [p["partNumber"] for p in listing["parts"]] == [1, 2]

    # Half-way: the page is reloaded (the held PUT dies with it).
    page.reload()
    page.unroute_all(behavior="ignoreErrors")
    expect(slot).to_contain_text("Uploading: can be resumed")
    expect(slot).to_contain_text("2 parts")
    uploader = slot.locator("[data-uploader]")
    assert uploader.get_attribute("data-upload-id") == upload.public_id
    assert uploader.get_attribute("data-upload-filename") == "welsh-speech.tar.gz"
    assert uploader.get_attribute("data-upload-size") == str(len(data))
    assert uploader.get_attribute("data-upload-expires-at")
    assert_accessible(page)
    before = traffic.puts.copy()
    assert before == Counter({1: 1, 2: 1, 3: 1})

    page.get_by_label("Select welsh-speech.tar.gz again to continue").set_input_files(archive)
    status = slot.get_by_role("status")
    expect(status).to_contain_text("The upload is completed", timeout=60_000)

    # Only the missing part went again; the upload was never started a second time.
    assert traffic.puts - before == Counter({3: 1}), traffic.puts
    assert traffic.starts() == 1
    assert list(FileUpload.objects.filter(submission=submission)) == [upload]
    upload.refresh_from_db()
    assert upload.state == "completed"
    assert upload.stored_size == upload.declared_size == len(data)
    assert upload.parts_count == 3
    # The uploader declared its part size: every part URL signed that part's exact length.
    assert upload.part_size == 5 * MiB
    assert upload.declared_sha256 == hashlib.sha256(data).hexdigest()
    assert Submission.objects.get(pk=submission.pk).file_upload == upload
    # The page says so without a reload, and again after one.
    expect(slot).to_contain_text(hashlib.sha256(data).hexdigest())
    expect(slot.get_by_role("button", name="Pause")).to_be_hidden()
    page.reload()
    expect(slot).to_contain_text("Uploaded")
    expect(slot).to_contain_text(f"({len(data)} bytes)")
    expect(slot).to_contain_text(upload.declared_sha256)
    assert_accessible(page)


def test_pause_resume_retry_and_start_over(live_server, page: Page, owner, tmp_path):
    submission, session_client = owner
    data = make_archive(12 * MiB)
    archive = tmp_path / "speech.tgz"
    archive.write_bytes(data)
    traffic = Traffic(page)
    # Part 2's first PUT fails on the network (retried after a back-off); part 3 is held.
    failed = []

    def fail_once(route):
        if route.request.method == "PUT" and not failed:
            failed.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(lambda url: part_number(url) == 2, fail_once)
    held = hold_parts(page, {3})
    page.goto(f"{live_server.url}/submissions/{submission.public_id}/files")
    slot = page.locator("#dataset-file-slot")
    status = slot.get_by_role("status")
    page.get_by_label("Choose the dataset archive").set_input_files(archive)
    wait_until(page, lambda: traffic.stored == {1, 2} and held, what="1 and 2 stored, 3 held")
    assert traffic.puts[2] == 2 and failed  # the retry

    slot.get_by_role("button", name="Pause").click()
    expect(status).to_contain_text("Paused")
    expect(slot.get_by_role("button", name="Resume")).to_be_visible()
    expect(slot.get_by_role("button", name="Pause")).to_be_hidden()
    page.unroute_all(behavior="ignoreErrors")
    page.wait_for_timeout(1500)
    assert traffic.puts == Counter({1: 1, 2: 2, 3: 1})  # nothing sent while paused

    slot.get_by_role("button", name="Resume").click()
    expect(status).to_contain_text("The upload is completed", timeout=60_000)
    assert traffic.puts == Counter({1: 1, 2: 2, 3: 2})
    upload = FileUpload.objects.get(submission=submission)
    assert upload.state == "completed"
    assert upload.declared_sha256 == hashlib.sha256(data).hexdigest()

    # The sample: started, then discarded with "Start over" (the API's DELETE).
    sample = tmp_path / "sample.tar.gz"
    sample.write_bytes(make_archive(7 * MiB))
    sample_slot = page.locator("#sample-file-slot")
    held = hold_parts(page, {2})
    page.get_by_label("Choose the sample archive").set_input_files(sample)
    wait_until(page, lambda: held, what="the sample's part 2 held")
    (started,) = FileUpload.objects.filter(submission=submission, kind="sample")
    sample_slot.get_by_role("button", name="Start over").click()
    expect(sample_slot.get_by_role("status")).to_contain_text("The unfinished upload is discarded")
    started.refresh_from_db()
    assert started.state == "aborted"
    assert f"DELETE /api/submissions/{submission.public_id}/sample/{started.public_id}" in (
        traffic.api
    )
    gone = session_client.get(
        f"/api/submissions/{submission.public_id}/sample/{started.public_id}/parts"
    )
    assert gone.status_code == 410 and gone.json()["error"] == "upload_aborted"
    expect(sample_slot.get_by_role("button", name="Start over")).to_be_hidden()
    expect(sample_slot).to_contain_text("Not uploaded")
    page.unroute_all(behavior="ignoreErrors")


def test_a_different_file_of_the_same_name_and_size_replaces_the_stored_parts(
    live_server, page: Page, owner, tmp_path
):
    """Resuming checks the stored parts against the file (MD5 against the part's ETag): parts
    of another file with the same name and size are sent again, so the stored object is the
    file whose SHA-256 is declared."""
    submission, _ = owner
    first = make_archive(11 * MiB)
    second = bytearray(first)
    second[100:120] = bytes(20)  # same size, part 1 differs
    second = bytes(second)
    assert len(first) == len(second) and first != second
    archive = tmp_path / "speech.tar.gz"
    archive.write_bytes(first)
    traffic = Traffic(page)
    held = hold_parts(page, {3})
    page.goto(f"{live_server.url}/submissions/{submission.public_id}/files")
    page.get_by_label("Choose the dataset archive").set_input_files(archive)
    wait_until(page, lambda: traffic.stored == {1, 2} and held, what="1 and 2 stored, 3 held")
    page.reload()
    page.unroute_all(behavior="ignoreErrors")

    archive.write_bytes(second)
    slot = page.locator("#dataset-file-slot")
    page.get_by_label("Select speech.tar.gz again to continue").set_input_files(archive)
    expect(slot.get_by_role("status")).to_contain_text("The upload is completed", timeout=60_000)
    assert traffic.puts == Counter({1: 2, 2: 1, 3: 2}), traffic.puts
    assert traffic.starts() == 1
    upload = FileUpload.objects.get(submission=submission)
    assert upload.declared_sha256 == hashlib.sha256(second).hexdigest()
    stored = s3_client().get_object(Bucket=bucket(), Key=upload.key)["Body"].read()
    assert stored == second


def test_wrong_type_and_over_size_files_are_refused_before_a_byte_is_sent(
    live_server, page: Page, owner, settings, tmp_path
):
    submission, _ = owner
    settings.UPLOAD_MAX_BYTES = 10_000  # the live server runs in this process: it sees this
    api_calls: list[str] = []
    page.on("request", lambda r: "/api/" in r.url and api_calls.append(f"{r.method} {r.url}"))
    page.goto(f"{live_server.url}/submissions/{submission.public_id}/files")
    slot = page.locator("#dataset-file-slot")
    assert slot.locator("[data-uploader]").get_attribute("data-max-bytes") == "10000"
    file_input = page.get_by_label("Choose the dataset archive")
    status = slot.get_by_role("status")

    file_input.set_input_files(
        {"name": "recordings.zip", "mimeType": "application/zip", "buffer": b"PK\x03\x04" * 10}
    )
    expect(status).to_contain_text("recordings.zip is not a gzip-compressed tar archive")
    expect(status).to_contain_text("only .tar.gz and .tgz files are accepted")

    big = tmp_path / "big.tar.gz"
    big.write_bytes(make_archive(20_000))
    file_input.set_input_files(big)
    expect(status).to_contain_text("over the limit of 9.8 KB per file")
    expect(status).to_contain_text("Nothing was uploaded")

    assert api_calls == []
    assert not FileUpload.objects.filter(submission=submission).exists()
    expect(slot.get_by_role("button", name="Pause")).to_be_hidden()
    assert_accessible(page)


def test_each_part_is_signed_once_and_completion_needs_no_listing(
    live_server, page: Page, owner, tmp_path
):
    """The fast path: the next part's URL is asked for while a part is on its way, and the
    ETags that storage answered the PUTs with go straight into the completion."""
    submission, _ = owner
    data = make_archive(13 * MiB)  # three parts
    archive = tmp_path / "manx-speech.tar.gz"
    archive.write_bytes(data)
    traffic = Traffic(page)
    hashing = hold_hash_worker(page)
    page.goto(f"{live_server.url}/submissions/{submission.public_id}/files")
    page.evaluate(
        """() => document.addEventListener("uploader:completed", (event) => {
             window.completedUpload = event.detail;
           })"""
    )
    page.get_by_label("Choose the dataset archive").set_input_files(archive)
    slot = page.locator("#dataset-file-slot")
    # The checksum is not known yet when every part is stored: storage assembles meanwhile.
    wait_until(
        page,
        lambda: hashing and any(call.endswith("/assemble") for call in traffic.api),
        what="the assembly asked for while the checksum is computed",
    )
    expect(slot.locator('[data-role="numbers"]')).to_contain_text("computing the checksum")
    hashing[0].continue_()
    status = slot.get_by_role("status")
    expect(status).to_contain_text("The upload is completed", timeout=60_000)

    (upload,) = FileUpload.objects.filter(submission=submission)
    base = f"/api/uploads/{upload.public_id}"
    assert traffic.puts == Counter({1: 1, 2: 1, 3: 1})
    # Storage assembles the parts while the page computes the checksum; then the completion.
    assert traffic.api == [
        "POST /api/uploads",
        *(call for call in traffic.api if call.startswith(f"GET {base}/parts/")),
        f"POST {base}/assemble",
        f"POST {base}",
    ], traffic.api
    signed = sorted(call for call in traffic.api if call.startswith(f"GET {base}/parts/"))
    assert signed == [f"GET {base}/parts/{n}" for n in (1, 2, 3)]
    # The page announces the completion with the upload as the API answered it.
    announced = page.evaluate("() => window.completedUpload")
    assert announced["fileUploadId"] == upload.public_id and announced["state"] == "completed"
    upload.refresh_from_db()
    assert (
        upload.state == "completed" and upload.declared_sha256 == hashlib.sha256(data).hexdigest()
    )


def test_an_etag_storage_does_not_hold_makes_the_page_list_the_parts_and_complete(
    live_server, page: Page, owner, tmp_path
):
    """A PUT answered with an ETag that is not what storage holds (a proxy rewrote it): the
    server refuses that completion, the page then lists what storage holds and completes with
    storage's own ETags, without sending any part again."""
    submission, _ = owner
    data = make_archive(11 * MiB)  # 5 + 5 + 1 MiB
    archive = tmp_path / "cornish-speech.tar.gz"
    archive.write_bytes(data)
    traffic = Traffic(page)

    def wrong_etag(route):
        if route.request.method != "PUT":
            return route.continue_()
        answered = route.fetch()
        headers = {**answered.headers, "etag": '"0123456789abcdef0123456789abcdef"'}
        return route.fulfill(response=answered, headers=headers)

    page.route(lambda url: part_number(url) == 2, wrong_etag)
    hashing = hold_hash_worker(page)
    page.goto(f"{live_server.url}/submissions/{submission.public_id}/files")
    page.get_by_label("Choose the dataset archive").set_input_files(archive)
    wait_until(page, lambda: hashing and traffic.stored == {1, 2, 3}, what="parts stored")
    page.wait_for_timeout(500)  # the assembly is asked for (and refused) meanwhile
    hashing[0].continue_()
    status = page.locator("#dataset-file-slot").get_by_role("status")
    expect(status).to_contain_text("The upload is completed", timeout=60_000)

    (upload,) = FileUpload.objects.filter(submission=submission)
    base = f"/api/uploads/{upload.public_id}"
    assert traffic.puts == Counter({1: 1, 2: 1, 3: 1})
    assert traffic.api.count(f"GET {base}/parts") == 1
    # Assembly refused the rewritten ETag (nothing assembled); the completion used storage's.
    assert traffic.api.count(f"POST {base}/assemble") == 1
    assert traffic.api.count(f"POST {base}") == 1
    upload.refresh_from_db()
    assert upload.state == "completed" and upload.stored_size == len(data)
    assert upload.assembled_parts is None


def assembled_then_completion_dropped(page: Page, base_url: str, submission, archive):
    """The page uploads `archive` while its hash is held, so storage assembles the parts first;
    then the connection drops as the completion is sent (the page offers Resume). Returns the
    dataset slot."""
    dropped = []

    def drop_completion(route):
        if route.request.method == "POST" and not dropped:
            dropped.append(route.request.url)
            return route.abort("connectionreset")
        return route.continue_()

    page.route(re.compile(r"/api/uploads/[a-z0-9]+$"), drop_completion)
    hashing = hold_hash_worker(page)
    page.goto(f"{base_url}/submissions/{submission.public_id}/files")
    slot = page.locator("#dataset-file-slot")
    with page.expect_response(lambda r: r.url.endswith("/assemble"), timeout=60_000) as answer:
        page.get_by_label("Choose the dataset archive").set_input_files(archive)
    assert answer.value.ok, answer.value.text()
    hashing[0].continue_()
    page.unroute("**/hash-worker*.js")
    expect(slot.get_by_role("status")).to_contain_text("Press Resume", timeout=60_000)
    assert dropped
    return slot


def test_a_page_closed_after_storage_assembled_the_file_finishes_without_sending_again(
    live_server, page: Page, owner, tmp_path
):
    """The connection drops as the page sends the completion, after storage assembled the
    parts; the page is reloaded. Selecting the file again checks it against the assembled parts
    (MD5s) and completes: no part is signed or sent again, and nothing was lost."""
    submission, session_client = owner
    data = make_archive(11 * MiB)
    archive = tmp_path / "breton-speech.tar.gz"
    archive.write_bytes(data)
    traffic = Traffic(page)
    slot = assembled_then_completion_dropped(page, live_server.url, submission, archive)
    (upload,) = FileUpload.objects.filter(submission=submission)
    upload.refresh_from_db()
    assert upload.state == "uploading" and len(upload.assembled_parts) == 3
    head = s3_client().head_object(Bucket=bucket(), Key=upload.key)
    assert head["ContentLength"] == len(data)

    page.reload()
    expect(slot).to_contain_text("assembled by storage")
    assert_accessible(page)
    before = (traffic.puts.copy(), len(traffic.api))
    page.get_by_label("Select breton-speech.tar.gz again to continue").set_input_files(archive)
    expect(slot.get_by_role("status")).to_contain_text("The upload is completed", timeout=60_000)
    base = f"/api/uploads/{upload.public_id}"
    after = traffic.api[before[1] :]
    assert traffic.puts == before[0] == Counter({1: 1, 2: 1, 3: 1})
    assert not [call for call in after if call.startswith(f"GET {base}/parts/")], after
    assert after[0] == f"GET {base}/parts" and after[-1] == f"POST {base}", after
    assert traffic.starts() == 1
    upload.refresh_from_db()
    assert upload.state == "completed" and upload.stored_size == len(data)
    assert upload.declared_sha256 == hashlib.sha256(data).hexdigest()
    assert Submission.objects.get(pk=submission.pk).file_upload == upload


def test_another_file_of_the_same_name_and_size_replaces_an_assembled_upload(
    live_server, page: Page, owner, tmp_path
):
    """Storage assembled an upload of one file; another file of the same name and size is
    selected after a reload. Its parts cannot go into the assembled object: the page finds the
    difference (MD5), says a new upload is needed, and the next selection starts one that
    supersedes the old (whose object is deleted)."""
    submission, session_client = owner
    data = make_archive(11 * MiB)
    other = bytearray(data)
    other[1000:1100] = bytes(255 - b for b in other[1000:1100])  # same size, part 1 differs
    archive = tmp_path / "irish-speech.tar.gz"
    archive.write_bytes(data)
    slot = assembled_then_completion_dropped(page, live_server.url, submission, archive)
    (first,) = FileUpload.objects.filter(submission=submission)
    assert s3_client().head_object(Bucket=bucket(), Key=first.key)["ContentLength"] == len(data)

    page.reload()
    expect(slot).to_contain_text("assembled by storage")
    archive.write_bytes(bytes(other))
    page.get_by_label("Select irish-speech.tar.gz again to continue").set_input_files(archive)
    status = slot.get_by_role("status")
    expect(status).to_contain_text("another file of this name and size", timeout=60_000)
    expect(status).to_contain_text("Select the file again to start a new upload")
    page.get_by_label("Choose the dataset archive").set_input_files(archive)
    expect(status).to_contain_text("The upload is completed", timeout=60_000)

    first.refresh_from_db()
    assert first.state == "aborted"
    assert first.key not in {
        o["Key"] for o in s3_client().list_objects_v2(Bucket=bucket()).get("Contents", [])
    }
    second = Submission.objects.get(pk=submission.pk).file_upload
    assert second is not None and second.pk != first.pk
    assert second.declared_sha256 == hashlib.sha256(bytes(other)).hexdigest()
