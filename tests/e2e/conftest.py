"""Browser tests: pytest-playwright drives Debian's Chromium against pytest-django's live_server
(a real server thread on a transactional test database). Helpers live in tests/e2e/browser.py."""

import os

import pytest

from marketplace.storage import storage_bootstrap
from tests.e2e.browser import CHROMIUM, CHROMIUM_LAUNCH_ARGS

TEST_ORIGIN = "http://testserver"  # what tests/conftest.py's local_services allows

# Playwright's sync API runs its asyncio event loop in this thread (switching greenlets) for as
# long as the session's browser lives, so Django sees a running loop and its async-safety check
# refuses the ORM calls a test makes between page actions (building users and rows, reading them
# back). Nothing here is concurrent: the test and the live server's thread each use their own
# connection. The variable is read at each ORM call and stays set for the rest of the process,
# as the session-scoped browser (and its loop) outlives this directory's tests.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_name):
    """Overrides pytest-playwright's: always Debian's Chromium, headless, never a downloaded
    browser. A missing browser fails the tests (it must not silently skip them)."""
    if browser_name != "chromium":
        pytest.fail(
            f"--browser {browser_name}: the browser tests run on Debian's Chromium only",
            pytrace=False,
        )
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests drive Debian's Chromium. Install it with "
            "`make system-deps` (devtools/system-deps.sh) or `sudo apt-get install chromium`.",
            pytrace=False,
        )
    return CHROMIUM_LAUNCH_ARGS


@pytest.fixture
def storage_cors(live_server):
    """The page's origin may PUT parts to storage (and read their ETag): the bucket's CORS rule
    with the live server's origin, as `manage.py bootstrap_storage` sets it for
    STORAGE_CORS_ORIGINS; the session's own rule comes back afterwards."""
    storage_bootstrap(cors_origins=[TEST_ORIGIN, live_server.url])
    yield live_server.url
    storage_bootstrap(cors_origins=[TEST_ORIGIN])


@pytest.fixture(autouse=True)
def _csp_violations_fail_the_test(request):
    """A Content-Security-Policy violation (an inline script or style, a script or connection to
    an origin the policy does not allow) shows as a console error in Chromium: it fails the test
    that caused it, so a page that works only with the policy off cannot pass."""
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")
    violations: list[str] = []

    def collect(message):
        if message.type == "error" and "Content Security Policy" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", collect)
    yield
    assert not violations, "CSP violations:\n" + "\n".join(violations)
