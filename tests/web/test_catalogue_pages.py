"""The buyer's catalogue (`/datasets`) and dataset page (`/datasets/<slug>`), through the Django
test client against datasets published the production way. The catalogue must find what
`GET /api/datasets` finds, in the same order, for the same query string; it runs in a constant
number of queries; private datasets are 404 outside their organisation, removed ones 410."""

import json
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from licensing.models import DownloadSession
from licensing.selectors import dataset_terms
from marketplace.pricing import pricing_object
from marketplace.services.review import dataset_remove
from tests.catalogue_helpers import api, make_archive
from tests.licensing.conftest import accept_terms, publish

pytestmark = pytest.mark.django_db

CARD_ID = re.compile(r'<article class="dataset-card" id="ds-([a-z0-9]+)"')
JSON_LD = re.compile(
    r'<script type="application/ld\+json" id="croissant-jsonld">(.*?)</script>', re.S
)


def browser(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def page_ids(response) -> list[str]:
    return CARD_ID.findall(response.content.decode())


def api_ids(query: str) -> list[str]:
    response = api().get(f"/api/datasets?{query}")
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


@pytest.fixture
def shelf(provider):
    """Five datasets across tasks, locales, licenses and prices."""
    return {
        "whale_en": publish(
            provider,
            "Humpback whale songs",
            task="ASR",
            locale="en",
            longDescription="Hydrophone recordings of whales.",
        ),
        "whale_de": publish(
            provider,
            "Ocean sounds",
            task="ASR",
            locale="de",
            longDescription="Hydrophone recordings, a whale near the shore.",
        ),
        "whale_tts": publish(
            provider,
            "Whale voice synthesis",
            task="TTS",
            locale="en",
            isPaid=True,
            basePriceCents=2_000,
        ),
        "welsh": publish(provider, "Welsh read speech", task="ASR", locale="cy"),
        "paid_en": publish(
            provider,
            "Paid English speech",
            task="ASR",
            locale="en",
            isPaid=True,
            basePriceCents=500,
        ),
    }


# --- catalogue --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "q=whale&task=ASR&locale=en&locale=de",
        "q=whale&task=ASR&locale=de&sortDirection=asc",
        "task=ASR&pricing=free",
        "task=ASR&task=TTS&locale=en&sort=size&sortDirection=asc",
        "pricing=compensated",
        "q=hydrophone",
        "",
    ],
)
def test_the_catalogue_finds_what_the_api_finds_in_the_same_order(shelf, query):
    response = browser().get(f"/datasets?{query}")
    assert response.status_code == 200
    expected = api_ids(query)
    assert page_ids(response) == expected
    assert f"{len(expected)} dataset" in text(response.content.decode())


def test_a_query_and_two_filters_give_the_expected_datasets_in_order(shelf):
    response = browser().get("/datasets?q=whale&task=ASR&locale=en&locale=de")
    # Both ASR whales, the name match ranked first; the TTS whale and the others filtered out.
    assert page_ids(response) == [shelf["whale_en"].public_id, shelf["whale_de"].public_id]
    html = response.content.decode()
    # The form keeps the state: the search words and the chosen facets.
    assert 'name="q" value="whale"' in html
    assert re.search(r'name="task" value="ASR" checked', html)
    assert re.search(r'name="locale" value="de" checked', html)
    assert not re.search(r'name="locale" value="cy" checked', html)


def test_paging_links_carry_the_query_and_walk_the_results(shelf):
    client = browser()
    first = client.get("/datasets?task=ASR&limit=2")
    html = first.content.decode()
    assert len(page_ids(first)) == 2
    assert "page 1 of 2" in text(html)
    next_url = re.search(r'<a href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert "task=ASR" in next_url and "limit=2" in next_url and "page=2" in next_url
    second = client.get(next_url)
    assert page_ids(second) == api_ids("task=ASR&limit=2&page=2")
    assert set(page_ids(first)).isdisjoint(page_ids(second))
    assert 'rel="prev"' in second.content.decode()


def test_an_htmx_request_gets_the_results_fragment_only(shelf):
    response = browser().get("/datasets?task=TTS", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'id="catalogue-form"' not in html
    assert page_ids(response) == [shelf["whale_tts"].public_id]
    assert "HX-Request" in response["Vary"]
    full = browser().get("/datasets?task=TTS")
    assert "<html" in full.content.decode() and 'hx-get="/datasets"' in full.content.decode()


@pytest.mark.parametrize(
    "query,field",
    [
        ("sort=bogus", "sort"),
        ("page=0", "page"),
        ("pricing=cheap", "pricing"),
        ("limit=500", "limit"),
        ("commercialUse=maybe", "commercialUse"),
        ("minPriceCents=-5", "minPriceCents"),
        ("minSizeBytes=9&maxSizeBytes=1", "minSizeBytes"),
    ],
)
def test_bad_parameters_are_a_readable_error_not_a_crash(shelf, query, field):
    response = browser().get(f"/datasets?{query}")
    assert response.status_code == 400
    words = text(response.content.decode())
    assert "This search could not be run" in words and f"{field}:" in words
    assert page_ids(response) == []


def test_the_terms_price_and_size_filters_find_what_the_api_finds(provider):
    open_ = publish(provider, "Open speech", size=2_000)
    non_commercial = publish(
        provider,
        "Non-commercial speech",
        licenseAbbreviation="CC-BY-NC-4.0",
        isPaid=True,
        basePriceCents=500,
        size=20_000,
    )
    no_derivatives = publish(
        provider,
        "No-derivatives speech",
        licenseAbbreviation="CC-BY-ND-4.0",
        isPaid=True,
        basePriceCents=2_000,
        size=60_000,
    )
    total = pricing_object(is_paid=True, base_price_cents=500)["totalPriceCents"]
    size = non_commercial.latest_version.size_bytes
    expected = {
        "commercialUse=true": [no_derivatives, open_],
        "modelTraining=true&sortDirection=asc": [open_, non_commercial],
        "derivatives=true&minPriceCents=1": [non_commercial],
        f"maxPriceCents={total}": [non_commercial, open_],
        f"minPriceCents={total}&commercialUse=true": [no_derivatives],
        f"minSizeBytes={size}&sort=size": [no_derivatives, non_commercial],
        f"maxSizeBytes={size}&modelTraining=true&q=speech&sort=newest": [non_commercial, open_],
        "shareAlike=false&attribution=false": [],
    }
    for query, datasets in expected.items():
        response = browser().get(f"/datasets?{query}")
        assert response.status_code == 200
        assert page_ids(response) == api_ids(query) == [d.public_id for d in datasets], query


def test_the_form_shows_the_terms_price_and_size_filters_and_keeps_them(provider):
    publish(provider, "Open speech")
    query = "commercialUse=true&shareAlike=false&minPriceCents=100&maxSizeBytes=5000000"
    html = browser().get(f"/datasets?{query}").content.decode()
    assert re.search(r'name="commercialUse" value="true" checked', html)
    assert re.search(r'name="shareAlike" value="false" checked', html)
    assert not re.search(r'name="modelTraining" value="true" checked', html)
    for name, value in (("minPriceCents", "100"), ("maxSizeBytes", "5000000")):
        field = re.search(rf'<input type="number" id="([\w-]+)" name="{name}"[^>]*>', html)
        assert field and f'value="{value}"' in field.group(0), name
        assert f'<label for="{field.group(1)}">' in html  # every input has its label
    assert 'value=""' in re.search(r'<input[^>]*name="maxPriceCents"[^>]*>', html).group(0)
    words = text(html)
    assert "Commercial use allowed" in words and "Model training allowed" in words
    assert "US cents" in words and "bytes" in words


def test_private_datasets_are_not_listed(provider):
    publish(provider, "Secret whale songs", visibility="private")
    visible = publish(provider, "Open whale songs")
    assert page_ids(browser(provider.user).get("/datasets?q=whale")) == [visible.public_id]


def count_queries(client: Client, url: str) -> int:
    cache.clear()  # every count is of a page built from the database, not the cache
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("signed_in", [False, True])
def test_catalogue_queries_do_not_grow_with_the_number_of_datasets(provider, buyer, signed_in):
    client = browser(buyer.user if signed_in else None)
    urls = ["/datasets", "/datasets?q=speech&task=ASR&locale=en", "/datasets?sort=size"]
    urls += [
        "/datasets?commercialUse=true&modelTraining=true&minPriceCents=0&maxPriceCents=100000"
        "&minSizeBytes=1&maxSizeBytes=100000000"
    ]
    publish(provider, "English speech one", task="ASR", locale="en")
    count_queries(client, "/datasets")  # a first visit may store the session's organisation
    one = [count_queries(client, url) for url in urls]
    for n in range(3):
        publish(provider, f"English speech {n}", task="ASR", locale="en", format=f"F{n}")
    assert [count_queries(client, url) for url in urls] == one


# --- the dataset page -----------------------------------------------------------------------


def test_the_dataset_page_shows_the_card_terms_price_versions_and_sdk(provider):
    dataset = publish(
        provider,
        "Clinic dialogues",
        task="ASR",
        locale="en",
        shortDescription="Doctor and patient dialogues",
        longDescription="Recorded in three clinics.",
        ethicalReviewProcess="Every speaker signed a consent form.",
        containsPersonalData=True,
        isPaid=True,
        basePriceCents=1_999,
    )
    response = browser().get(f"/datasets/{dataset.slug}")
    assert response.status_code == 200
    html = response.content.decode()
    words = text(html)
    terms = dataset_terms(dataset)
    pricing = pricing_object(is_paid=True, base_price_cents=1_999)
    version = dataset.latest_version
    for expected in (
        "Doctor and patient dialogues",
        "Recorded in three clinics.",
        "Every speaker signed a consent form.",
        "contains personal data",
        provider.org.name,
        terms.hash,
        "Commercial use",
        version.sha256,
        f'datacollective.download_dataset("{dataset.public_id}")',
        "MDC_API_URL=",
        "MDC_API_KEY=",
        "Get access",
    ):
        assert expected in words or expected in html, expected
    breakdown = re.search(r'<table class="price-breakdown">(.*?)</table>', html, re.S).group(1)
    cells = re.findall(r'<data value="(\d+)"', breakdown)
    assert cells == [
        str(c) for c in (1_999, pricing["platformFeeCents"], pricing["totalPriceCents"])
    ]
    assert f'href="/datasets/{dataset.public_id}/terms"' in html
    # Statistics from ingestion and the checks' badges.
    assert "Statistics" in words and "Rows" in words
    assert 'class="check-badge check-pass"' in html
    # By id as by slug.
    assert browser().get(f"/datasets/{dataset.public_id}").status_code == 200


def test_the_croissant_json_ld_is_in_the_head_and_is_the_api_document(provider):
    dataset = publish(
        provider, "Whale songs", longDescription="</script><script>alert(1)</script> & more"
    )
    html = browser().get(f"/datasets/{dataset.slug}").content.decode()
    head = html.split("</head>")[0]
    block = JSON_LD.search(head)
    assert block, "no JSON-LD block in <head>"
    assert "</script><script>" not in block.group(1)
    document = json.loads(block.group(1))
    expected = api().get(f"/api/datasets/{dataset.public_id}/croissant").json()
    assert document == expected
    assert document["@type"] == "sc:Dataset" and document["name"] == "Whale songs"
    assert f'href="/api/datasets/{dataset.public_id}/croissant"' in html


def test_a_private_dataset_is_404_outside_its_organisation(provider, buyer):
    dataset = publish(provider, "Internal speech", visibility="private")
    for client in (browser(), browser(buyer.user)):
        for ref in (dataset.slug, dataset.public_id):
            assert client.get(f"/datasets/{ref}").status_code == 404
    assert browser(provider.user).get(f"/datasets/{dataset.slug}").status_code == 200


def test_an_unknown_dataset_is_404(db):
    assert browser().get("/datasets/no-such-dataset").status_code == 404


def test_a_removed_dataset_is_a_410_page(provider, staff):
    dataset = publish(provider, "Withdrawn speech")
    dataset_remove(dataset=dataset, actor=staff, reason="takedown request")
    response = browser().get(f"/datasets/{dataset.slug}")
    assert response.status_code == 410
    assert "removed" in text(response.content.decode())


def test_the_terms_page_still_answers_beside_the_dataset_page(provider, buyer):
    dataset = publish(provider)
    response = browser(buyer.user).get(f"/datasets/{dataset.public_id}/terms")
    assert response.status_code == 200
    assert dataset_terms(dataset).hash in response.content.decode()


def test_the_sample_downloads_after_the_terms_are_accepted(provider, buyer):
    sample = make_archive(1_500, seed=b"sample")
    dataset = publish(provider, "Speech with a sample", sample=sample)
    page = browser(buyer.user).get(f"/datasets/{dataset.slug}").content.decode()
    action = f"/datasets/{dataset.public_id}/sample"
    assert f'action="{action}"' in page
    client = browser(buyer.user)

    refused = client.post(action)
    assert refused.status_code == 302 and refused["Location"] == f"/datasets/{dataset.public_id}"
    assert "Accept the terms" in text(client.get(refused["Location"]).content.decode())
    assert not DownloadSession.objects.filter(dataset=dataset).exists()

    accept_terms(buyer, dataset)
    response = client.post(action)
    assert response.status_code == 303
    session = DownloadSession.objects.get(dataset=dataset, organization=buyer.org)
    assert session.kind == DownloadSession.Kind.SAMPLE
    assert "X-Amz-Signature=" in response["Location"] or "Signature=" in response["Location"]


def test_the_sample_button_needs_a_signed_in_member(provider):
    dataset = publish(provider, "Speech with a sample", sample=make_archive(1_500, seed=b"s"))
    response = browser().post(f"/datasets/{dataset.public_id}/sample")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
