"""The catalogue and a dataset's page in Chromium: search with a query and two filters (htmx
swaps the results in place and pushes the URL), reload the URL and get the same page; the
dataset page with its Croissant JSON-LD under the site's CSP; axe on both, also at phone width."""

import json
import re

from playwright.sync_api import Page, expect

from tests.catalogue_helpers import api, publish_dataset
from tests.e2e.browser import assert_accessible, screenshot
from tests.factories import make_key


def card_ids(page: Page) -> list[str]:
    return [
        (page.locator("article.dataset-card").nth(i).get_attribute("id") or "")[3:]
        for i in range(page.locator("article.dataset-card").count())
    ]


def test_search_with_a_query_and_two_filters_then_reload(live_server, page: Page):
    secret, _key = make_key(uploads=True)

    def publish(name, **sheet):
        return publish_dataset(secret, name=name, **sheet)[1].dataset

    in_name = publish(
        "Humpback whale songs", task="ASR", locale="en", longDescription="Hydrophone recordings."
    )
    in_text = publish(
        "Ocean sounds", task="ASR", locale="de", longDescription="Recordings, a whale nearby."
    )
    publish("Whale voice synthesis", task="TTS", locale="en")  # wrong task
    publish("Whale speech in Welsh", task="ASR", locale="cy")  # wrong locale
    publish("Read speech", task="ASR", locale="en")  # no match for the words

    page.goto(f"{live_server.url}/datasets")
    expect(page.get_by_role("heading", level=1)).to_have_text("Datasets")
    assert_accessible(page)

    page.get_by_label("Search", exact=True).fill("whale")
    page.get_by_label("Search", exact=True).press("Enter")
    task = page.get_by_role("group", name="Task")
    task.get_by_label("ASR").check()
    locale = page.get_by_role("group", name="Locale")
    locale.get_by_label("en", exact=True).check()
    locale.get_by_label("de", exact=True).check()

    expected = [in_name.public_id, in_text.public_id]  # ranked: the name match first
    expect(page.locator("article.dataset-card")).to_have_count(2)
    expect(page.locator(".results-count")).to_contain_text("2 datasets")
    assert card_ids(page) == expected
    # htmx pushed every state into the address bar.
    expect(page).to_have_url(re.compile(r"q=whale"))
    url = page.url
    assert "task=ASR" in url and "locale=en" in url and "locale=de" in url
    api_ids = [i["id"] for i in api().get("/api/datasets?" + url.split("?", 1)[1]).json()["items"]]
    assert api_ids == expected
    assert_accessible(page)
    screenshot(page, "catalogue")

    page.reload()
    expect(page.locator("article.dataset-card")).to_have_count(2)
    assert card_ids(page) == expected
    expect(page.get_by_label("Search", exact=True)).to_have_value("whale")
    expect(task.get_by_label("ASR")).to_be_checked()
    expect(locale.get_by_label("de", exact=True)).to_be_checked()

    # The same URL in a fresh page (a shared link, no JavaScript state) gives the same results.
    other = page.context.new_page()
    other.goto(url)
    assert card_ids(other) == expected
    other.close()

    page.set_viewport_size({"width": 375, "height": 800})
    assert_accessible(page)


def test_the_dataset_page_with_its_json_ld_is_accessible(live_server, page: Page):
    secret, _key = make_key(uploads=True)
    _sid, version = publish_dataset(
        secret,
        name="Clinic dialogues",
        task="ASR",
        locale="en",
        isPaid=True,
        basePriceCents=1_500,
        longDescription="</script> is text here & <b>not</b> markup.",
    )
    dataset = version.dataset
    page.goto(f"{live_server.url}/datasets")
    page.get_by_role("link", name="Clinic dialogues").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinic dialogues")
    expect(page).to_have_url(f"{live_server.url}/datasets/{dataset.slug}")
    block = page.locator('head script[type="application/ld+json"]')
    expect(block).to_have_count(1)
    document = json.loads(block.text_content())
    assert document["name"] == "Clinic dialogues"
    assert document["description"] == "</script> is text here & <b>not</b> markup."
    expect(page.get_by_role("heading", name="API / Python")).to_be_visible()
    expect(page.locator("#sdk-snippet")).to_contain_text(
        f'datacollective.download_dataset("{dataset.public_id}")'
    )
    expect(page.get_by_role("heading", name="Get access")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "dataset-page")
    page.set_viewport_size({"width": 375, "height": 800})
    assert_accessible(page)
