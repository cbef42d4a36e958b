"""Watching and steering the browser uploader's traffic in Playwright: which parts were PUT to
storage, which storage accepted, which upload API calls were made; holding parts to simulate a
dropped connection."""

from collections import Counter
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page


def part_number(url: str) -> int | None:
    numbers = parse_qs(urlsplit(url).query).get("partNumber")
    return int(numbers[0]) if numbers else None


def wait_until(page: Page, condition, *, seconds: float = 30, what: str = "") -> None:
    """Poll `condition` while letting Playwright dispatch its events (a plain sleep would not)."""
    for _ in range(int(seconds * 10)):
        if condition():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {what or condition}")


class Traffic:
    """What the browser sends: part PUTs per part number, the parts storage accepted, and the
    upload API calls (method and path)."""

    def __init__(self, page: Page):
        self.puts: Counter[int] = Counter()
        self.stored: set[int] = set()
        self.api: list[str] = []
        page.on("request", self._request)
        page.on("response", self._response)

    def _request(self, request):
        number = part_number(request.url)
        if request.method == "PUT" and number:
            self.puts[number] += 1
        path = urlsplit(request.url).path
        if path.startswith("/api/"):
            self.api.append(f"{request.method} {path}")

    def _response(self, response):
        number = part_number(response.url)
        if response.request.method == "PUT" and number and response.ok:
            self.stored.add(number)

    def starts(self) -> int:
        return sum(call.startswith("POST ") and call.endswith("/api/uploads") for call in self.api)


def hold_parts(page: Page, numbers: set[int]) -> list:
    """The connection "drops" while these parts are on their way: their PUTs are held, never
    answered. Returns the held routes."""
    held = []

    def handle(route):
        if route.request.method == "PUT":
            held.append(route)
        else:
            route.continue_()

    page.route(lambda url: part_number(url) in numbers, handle)
    return held


def hold_hash_worker(page: Page) -> list:
    """The page's hash worker script is held (the worker cannot start hashing) until the test
    continues the returned route: the checksum is then still being computed when every part is
    stored, as it is for a big file."""
    held = []
    page.route("**/hash-worker*.js", lambda route: held.append(route))
    return held
