"""Web upload benchmark: the same archive uploaded by the browser page (headless Debian Chromium
on /submissions/<id>/files, the real uploader: parts straight to storage through the upload API,
the whole-file SHA-256 and the parts' MD5s computed in a Web Worker) and by the official SDK,
same run, same stack (gunicorn + moto), alternating which goes first.

Prints `bench web-upload: browser_s=… sdk_s=… size_mb=256 ratio=<sdk s / browser s>` and
`target web-upload: ratio=… (>= 0.8) ok|MISSED`; exits non-zero if an upload fails or is not
recorded with the right size."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Stack, bench_party, log  # noqa: E402
from upload import empty_bucket, make_file, run_sdk  # noqa: E402

SIZE_MB = int(os.environ.get("BENCH_WEB_UPLOAD_MB", "256"))
ROUNDS = int(os.environ.get("BENCH_WEB_UPLOAD_ROUNDS", "3"))
TARGET_RATIO = 0.8
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench-web-upload-passphrase-1"


def browser_user(issued) -> str:
    """The key's owner can sign in on the web (password, verified address); returns the e-mail."""
    from allauth.account.models import EmailAddress

    user = issued.key.user
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return user.email


def sign_in(page, stack: Stack, email: str) -> None:
    page.goto(f"{stack.base_url}/accounts/login/")
    main = page.get_by_role("main")
    main.get_by_label("Email").fill(email)
    main.get_by_label("Password").fill(PASSWORD)
    main.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{stack.base_url}/dashboard")


def run_browser(page, stack: Stack, path: Path, issued) -> float:
    import requests

    from marketplace.models import FileUpload

    draft = requests.post(
        f"{stack.base_url}/api/submissions",
        json={"name": "Bench web upload"},
        headers={"Authorization": f"Bearer {issued.secret}"},
        timeout=30,
    )
    draft.raise_for_status()
    sid = draft.json()["submission"]["id"]
    page.goto(f"{stack.base_url}/submissions/{sid}/files")
    status = page.locator("#dataset-file-slot").get_by_role("status")
    marks: dict[str, float] = {}

    def seen(request):  # where the time goes: first part PUT, last part done, completion
        now = time.perf_counter()
        if request.method == "PUT":
            marks.setdefault("first_put", now)
            marks["last_put_done"] = now
        elif request.method == "POST" and request.url.endswith("/assemble"):
            marks["assemble_done"] = now
        elif request.method == "POST" and "/api/uploads/" in request.url:
            marks["complete_done"] = now

    def sent(request):
        if request.method == "POST" and request.url.endswith("/assemble"):
            marks["assemble_sent"] = time.perf_counter()
        elif request.method == "POST" and "/api/uploads/" in request.url:
            marks["complete_sent"] = time.perf_counter()

    page.on("requestfinished", seen)
    page.on("request", sent)
    # Timed by the page's own clock, from the file being chosen (its input's change event) to
    # the uploader's completion event: what a user waits for, without Playwright's round trips
    # and its polling for the status text (0.2-0.3 s here), which the SDK's timing has no
    # counterpart of. The wall time around it is logged too.
    page.evaluate(
        """() => {
          window.__upload = {};
          document.querySelector("#dataset-file").addEventListener(
            "change", () => { window.__upload.chosen = performance.now(); }, { capture: true });
          document.addEventListener(
            "uploader:completed", () => { window.__upload.completed = performance.now(); });
        }"""
    )
    t0 = time.perf_counter()
    page.get_by_label("Choose the dataset archive").set_input_files(str(path))
    status.filter(has_text="The upload is completed").wait_for(timeout=30 * 60 * 1000)
    wall = time.perf_counter() - t0
    timed = page.evaluate("() => window.__upload")
    elapsed = (timed["completed"] - timed["chosen"]) / 1000
    page.remove_listener("requestfinished", seen)
    page.remove_listener("request", sent)
    if {"first_put", "last_put_done", "complete_done"} <= marks.keys():
        log(
            f"browser phases: first part done {marks['first_put'] - t0:.2f}s, parts until "
            f"{marks['last_put_done'] - t0:.2f}s, assembly (while hashing) sent at "
            f"{marks.get('assemble_sent', t0) - t0:.2f}s and answered at "
            f"{marks.get('assemble_done', t0) - t0:.2f}s, completion sent at "
            f"{marks.get('complete_sent', 0) - t0:.2f}s and answered at "
            f"{marks['complete_done'] - t0:.2f}s"
        )
    upload = FileUpload.objects.get(submission__public_id=sid, kind=FileUpload.Kind.DATASET)
    size = path.stat().st_size
    if upload.state != FileUpload.State.COMPLETED or upload.stored_size != size:
        raise RuntimeError(f"browser upload not recorded: {upload.state}, {upload.stored_size}")
    log(
        f"browser: {upload.parts_count} parts, {elapsed:.2f}s in the page "
        f"({wall:.2f}s around it), {size} B stored and recorded"
    )
    return elapsed


def main() -> int:
    from datacollective.upload_utils import DEFAULT_MAX_WORKERS, DEFAULT_PART_SIZE
    from playwright.sync_api import sync_playwright

    browser_times: list[float] = []
    sdk_times: list[float] = []
    with Stack("web-upload") as stack, sync_playwright() as playwright:
        stack.django()
        os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # ORM between page actions
        path = make_file(stack.tmp, SIZE_MB)
        issued = bench_party(username="bench-web", org_name="Bench Web Uploads", uploads=True)
        email = browser_user(issued)
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        page = browser.new_context().new_page()
        sign_in(page, stack, email)
        # Warm-up (not timed): the page's scripts, the worker, gunicorn workers' first requests.
        small = make_file(stack.tmp, 12)
        run_browser(page, stack, small, issued)
        run_sdk(stack, small, issued.secret, DEFAULT_PART_SIZE, DEFAULT_MAX_WORKERS)
        small.unlink()
        empty_bucket(stack)
        for n in range(ROUNDS):
            order = ("browser", "sdk") if n % 2 == 0 else ("sdk", "browser")
            for side in order:
                if side == "browser":
                    browser_times.append(run_browser(page, stack, path, issued))
                else:
                    sdk_s, _completion_s = run_sdk(
                        stack, path, issued.secret, DEFAULT_PART_SIZE, DEFAULT_MAX_WORKERS
                    )
                    sdk_times.append(sdk_s)
                empty_bucket(stack)
        browser.close()
    browser_s, sdk_s = statistics.median(browser_times), statistics.median(sdk_times)
    ratio = sdk_s / browser_s
    print(
        f"bench web-upload: browser_s={browser_s:.2f} sdk_s={sdk_s:.2f} size_mb={SIZE_MB} "
        f"ratio={ratio:.2f}",
        flush=True,
    )
    verdict = "ok" if ratio >= TARGET_RATIO else "MISSED"
    print(f"target web-upload: ratio={ratio:.2f} (>= {TARGET_RATIO}) {verdict}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
