"""Helpers for the browser tests (tests/e2e): how Chromium is launched, accessibility checks with
the vendored axe-core, and screenshots for the documentation."""

import functools
import re
from pathlib import Path

from playwright.sync_api import Page

REPO_ROOT = Path(__file__).resolve().parents[2]
# Debian's build (devtools/system-deps.sh installs it): Playwright cannot download its own browsers
# here, and launching with an explicit executable never looks for one.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_LAUNCH_ARGS = {
    "executable_path": str(CHROMIUM),
    "headless": True,
    # Root in a container: no user namespaces for the sandbox. The rest keep the browser off the
    # network (tests never reach the internet) and quiet.
    "args": [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-quic",
    ],
}
AXE_JS = REPO_ROOT / "web" / "static" / "vendor" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"

# Each violation reduced to what a failure message needs; a node's target is a list of selectors
# (one per iframe or shadow root on the way), joined here into one readable string.
_RUN_AXE = """async (impacts) => {
    const results = await axe.run(document, {resultTypes: ["violations"]});
    return results.violations
        .filter((violation) => impacts.includes(violation.impact))
        .map((violation) => ({
            id: violation.id,
            impact: violation.impact,
            help: violation.help,
            helpUrl: violation.helpUrl,
            nodes: violation.nodes.map((node) =>
                node.target.map((part) => [].concat(part).join(" >>> ")).join(" >> ")),
        }));
}"""


@functools.cache
def _axe_source() -> str:
    if not AXE_JS.is_file():
        raise FileNotFoundError(f"{AXE_JS} is missing: run `make vendor` (see web/static/vendor)")
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page: Page, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
    """Run axe-core on the page as it is now and return the violations of the given impacts:
    dicts with id, impact, help, helpUrl and nodes (the offending elements' selectors)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        if page.url.startswith("http"):
            # Our pages forbid inline scripts (Content-Security-Policy): load axe-core from the
            # site's own static files, as any other script of the page.
            origin = "/".join(page.url.split("/")[:3])
            page.add_script_tag(url=f"{origin}/static/vendor/axe-core/axe.min.js")
        else:
            page.add_script_tag(content=_axe_source())
    return page.evaluate(_RUN_AXE, list(impacts))


def format_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        lines.append(f"    {violation['helpUrl']}")
        lines.extend(f"    - {node}" for node in violation["nodes"])
    return "\n".join(lines)


def assert_accessible(page: Page, *, impacts: tuple[str, ...] = ("serious", "critical")) -> None:
    """Fail with a readable list when axe-core finds violations of the given impacts."""
    violations = axe_violations(page, impacts=impacts)
    assert not violations, (
        f"{len(violations)} accessibility violation(s) on {page.url}:\n"
        + format_violations(violations)
    )


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as docs/screenshots/<name>.png (the README shows them); return it."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise ValueError(f"screenshot name {name!r}: use lowercase letters, digits and dashes")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path
