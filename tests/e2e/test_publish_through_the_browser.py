"""The whole way a person publishes a dataset through the browser, without a terminal: sign up,
verify the address, create an organisation, ask for upload access (staff approve), start a
submission, upload a 13 MiB archive in three parts straight to storage — reloading the page
half-way and resuming — write the datasheet, pick license and price, import the contributors'
shares from a CSV, submit, watch the checks
pass; staff approve; the dataset is in the catalogue and the official SDK, with a key made on
the keys page, downloads exactly the bytes that were uploaded.

The staff decisions are made through their services, as the admin does."""

import hashlib
import re
from pathlib import Path

import datacollective as dc
from playwright.sync_api import Page, expect

from contributors.models import ShareTable
from marketplace.models import FileUpload, Organization, Submission
from marketplace.services.identity import organization_decide_upload_access
from marketplace.services.review import submission_approve
from tests.catalogue_helpers import MiB, make_archive
from tests.e2e.accounts import create_organisation, nav, sign_up
from tests.e2e.browser import assert_accessible, screenshot
from tests.e2e.uploads import Traffic, hold_parts, wait_until
from tests.factories import make_user


def test_publish_a_dataset_through_the_browser_and_download_it_with_the_sdk(
    live_server, page: Page, storage_cors, tmp_path, monkeypatch
):
    base = live_server.url
    page.context.set_default_timeout(15_000)
    staff = make_user(is_staff=True)

    # An account, an organisation, upload access.
    sign_up(page, base, "maker@example.org", check_pages=False)
    create_organisation(page, base, "Cymraeg Voices")
    nav(page, "Organisation")
    page.get_by_role("button", name="Request upload access").click()
    org = Organization.objects.get(name="Cymraeg Voices")
    organization_decide_upload_access(organization=org, approve=True, actor=staff)

    # A new submission.
    nav(page, "Submissions")
    assert_accessible(page)
    page.get_by_role("button", name="New submission").click()
    assert_accessible(page)
    page.get_by_label("Name").fill("Welsh read speech")
    page.get_by_role("button", name="Create and upload files").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Welsh read speech: files")
    submission = Submission.objects.get(organization=org, name="Welsh read speech")

    # Files: three parts; the third is on its way when the page is reloaded.
    data = make_archive(13 * MiB, seed=b"browser")
    archive = tmp_path / "welsh-read-speech.tar.gz"
    archive.write_bytes(data)
    traffic = Traffic(page)
    held = hold_parts(page, {3})
    page.get_by_label("Choose the dataset archive").set_input_files(archive)
    wait_until(page, lambda: traffic.stored == {1, 2} and held, what="parts 1, 2 stored")
    page.reload()
    page.unroute_all(behavior="ignoreErrors")
    slot = page.locator("#dataset-file-slot")
    expect(slot).to_contain_text("can be resumed")
    page.get_by_label("Select welsh-read-speech.tar.gz again to continue").set_input_files(archive)
    expect(slot.get_by_role("status")).to_contain_text("The upload is completed", timeout=60_000)
    assert traffic.puts == {1: 1, 2: 1, 3: 2}  # part 3 once held, once sent; 1 and 2 never again
    assert traffic.starts() == 1
    upload = FileUpload.objects.get(submission=submission, kind="dataset")
    assert (
        upload.state == "completed" and upload.declared_sha256 == hashlib.sha256(data).hexdigest()
    )
    assert_accessible(page)

    # Datasheet.
    page.get_by_role("link", name="2. Datasheet").click()
    missing = page.locator("#missing")
    expect(missing).to_contain_text("Short description")
    page.get_by_label("Short description").fill("Sentences read aloud in Welsh by volunteers.")
    page.get_by_label("Long description").fill("Volunteers read 2,000 sentences each.")
    page.get_by_label("Task").select_option("ASR")
    page.get_by_label("Locale").fill("cy-GB")
    page.get_by_label("Format").fill("TSV")
    # The "still needed" list follows the form as it is filled in, before anything is saved.
    expect(missing).not_to_contain_text("Short description")
    expect(missing).not_to_contain_text("Locale")
    assert_accessible(page)
    page.get_by_role("button", name="Save and continue").click()

    # License and price: the buyer's total is computed by the API's pricing code.
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Welsh read speech: license and price"
    )
    page.get_by_label("License", exact=True).fill("CC-BY-4.0")
    page.get_by_label("Visibility").select_option("public")
    page.get_by_label("Paid dataset").check()
    page.get_by_label("Base price (cents)").fill("1000")
    page.get_by_role("button", name="Save and preview").click()
    expect(page.locator(".pricing")).to_contain_text("1050 cents")
    assert_accessible(page)
    screenshot(page, "submission-license")
    page.get_by_role("button", name="Save and continue").click()

    # Contributors and shares: a CSV of 300 speakers at 0.2 % each, the organisation keeps 40 %.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welsh read speech")
    rows = ["email,name,percent"] + [f"speaker{n}@example.org,Speaker {n},0.2" for n in range(300)]
    csv_file = tmp_path / "speakers.csv"
    csv_file.write_text("\n".join(rows) + "\n")
    importer = page.locator("#shares-import")
    importer.get_by_label("Cymraeg Voices’s own share").fill("40")
    importer.get_by_label("CSV file").set_input_files(csv_file)
    importer.get_by_role("button", name="Import and save").click()
    expect(page.get_by_role("region", name="Messages")).to_contain_text("Saved: 300 contributors.")
    assert_accessible(page)
    page.get_by_role("link", name=re.compile(r"\d\. Submit")).click()

    # Submit: the checks run (eagerly, after the request's commit) and the page shows them.
    assert_accessible(page)
    page.get_by_label(re.compile("I confirm that we have the rights")).check()
    page.get_by_role("button", name="Submit for review").click()
    expect(page).to_have_url(f"{base}/submissions/{submission.public_id}")
    expect(page.locator("#submission-status")).to_contain_text("In review", timeout=60_000)
    expect(page.locator("#submission-status")).to_contain_text("Automatic checks")
    assert_accessible(page)
    screenshot(page, "submission-status")

    # Staff approve; the dataset is published and listed.
    submission.refresh_from_db()
    version = submission_approve(submission=submission, actor=staff)
    page.reload()
    expect(page.locator("#submission-status")).to_contain_text("Approved")
    # The staged shares became the dataset's share table at approval.
    table = ShareTable.objects.get(dataset=version.dataset)
    assert table.lines.count() == 301
    listing = page.request.get(f"{base}/api/datasets?q=Welsh").json()
    assert [d["id"] for d in listing["items"]] == [version.dataset.public_id]

    # A key from the keys page; the official SDK downloads the exact bytes.
    nav(page, "API keys")
    page.get_by_label("Key name").fill("sdk")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#issued-secret").input_value()
    monkeypatch.setenv("MDC_API_URL", f"{base}/api")
    monkeypatch.setenv("MDC_API_KEY", secret)
    monkeypatch.setenv("MDC_DOWNLOAD_PATH", str(tmp_path / "downloads"))
    monkeypatch.setenv("MDC_LOG_PATH", str(tmp_path / "mdc.log"))
    path = dc.download_dataset(
        version.dataset.public_id, download_directory=str(tmp_path), show_progress=False
    )
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
