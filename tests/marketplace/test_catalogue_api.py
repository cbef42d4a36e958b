"""The public catalogue (E1 list/search, E2 filters, E3 details), with every dataset published
the way production publishes it: API submission, bytes to moto, staff approval."""

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketplace.models import Dataset, Submission
from marketplace.services.review import dataset_remove
from tests.assertions import assert_error
from tests.catalogue_helpers import DATASHEET, api, make_archive, publish_dataset, upload_bytes
from tests.factories import make_key

pytestmark = pytest.mark.django_db

TASKS = ["N/A", "NLP", "ASR", "LID", "TTS", "MT", "LM", "LLM", "NLU", "NLG", "CALL", "RAG", "CV"]
TASKS += ["ML", "OTH"]


def publish(secret, reviewer, name, **datasheet) -> Dataset:
    data = datasheet.pop("data", None) or make_archive(2_000)
    _, version = publish_dataset(secret, name=name, data=data, reviewer=reviewer, **datasheet)
    return version.dataset


def listing(**params) -> dict:
    response = api().get("/api/datasets", params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert isinstance(body["total"], int)
    return body


def ids(**params) -> list[str]:
    return [item["id"] for item in listing(**params)["items"]]


# --- E1: filters ------------------------------------------------------------------------------


def test_repeated_keys_are_or_and_different_keys_are_and(provider, reviewer):
    secret = provider.secret
    d1 = publish(secret, reviewer, "Alpha", task="ASR", locale="en", format="TSV")
    d2 = publish(
        secret, reviewer, "Beta", task="TTS", locale="de", licenseAbbreviation="MIT", format="WAV"
    )
    d3 = publish(
        secret,
        reviewer,
        "Gamma",
        task="ASR",
        locale="de",
        licenseAbbreviation="CC0-1.0",
        format="TSV",
    )
    a, b, c = d1.public_id, d2.public_id, d3.public_id

    assert set(ids(task=["ASR", "TTS"])) == {a, b, c}
    assert set(ids(task="ASR")) == {a, c}
    assert set(ids(task="ASR", locale="de")) == {c}
    assert set(ids(locale=["en", "de"], format="WAV")) == {b}
    assert set(ids(license=["MIT", "CC0-1.0"])) == {b, c}
    assert set(ids(license="CC-BY-4.0")) == {a}
    assert set(ids(format=["TSV"], license=["MIT"])) == set()
    assert set(ids(task=["ASR", "NOPE"])) == {a, c}
    body = listing(task="ASR", locale=["en", "de"], format="TSV", license="CC0-1.0")
    assert body["total"] == 1 and [i["id"] for i in body["items"]] == [c]


@pytest.mark.parametrize(
    "params",
    [
        {"task": "NOPE"},
        {"task": "asr"},
        {"locale": "xx"},
        {"license": "WTFPL"},
        {"format": "ZIP"},
        {"q": "zebra"},
    ],
)
def test_values_not_in_the_catalogue_give_an_empty_page(provider, reviewer, params):
    secret = provider.secret
    publish(secret, reviewer, "Alpha")
    assert listing()["total"] == 1
    body = listing(**params)
    assert body["items"] == [] and body["total"] == 0


def test_full_text_search_ranks_name_matches_first(provider, reviewer):
    secret = provider.secret
    in_name = publish(
        secret,
        reviewer,
        "Humpback whale songs",
        longDescription="Hydrophone recordings from the Atlantic.",
    )
    in_description = publish(
        secret,
        reviewer,
        "Ocean sounds",
        longDescription="Hydrophone recordings, including a whale near the shore.",
    )
    publish(secret, reviewer, "Welsh read speech")

    # The description match is newer (and has the larger id), so only ranking puts the name
    # match first.
    assert ids(q="whale") == [in_name.public_id, in_description.public_id]
    assert ids(q="whales") == [in_name.public_id, in_description.public_id]
    assert listing(q="whale")["total"] == 2
    assert ids(q="whale", sortDirection="asc") == [in_description.public_id, in_name.public_id]
    assert set(ids(q="hydrophone")) == {in_name.public_id, in_description.public_id}


def test_sort_by_newest_and_size(provider, reviewer):
    secret = provider.secret
    big = publish(secret, reviewer, "Big", data=make_archive(30_000))
    small = publish(secret, reviewer, "Small", data=make_archive(10_000))
    medium = publish(secret, reviewer, "Medium", data=make_archive(20_000))
    a, b, c = big.public_id, small.public_id, medium.public_id

    assert ids() == [c, b, a]
    assert ids(sort="newest") == [c, b, a]
    assert ids(sort="newest", sortDirection="asc") == [a, b, c]
    assert ids(sort="size") == [a, c, b]
    assert ids(sort="size", sortDirection="desc") == [a, c, b]
    assert ids(sort="size", sortDirection="asc") == [b, c, a]
    sizes = [item["sizeBytes"] for item in listing(sort="size")["items"]]
    assert sizes == sorted(sizes, reverse=True)
    for bad in ({"sort": "popular"}, {"sortDirection": "up"}):
        body = assert_error(api().get("/api/datasets", bad), 400)
        assert next(iter(bad)) in body["message"]


def test_upload_date_windows(provider, reviewer):
    secret = provider.secret
    fresh = publish(secret, reviewer, "Fresh").public_id
    ten_days = publish(secret, reviewer, "Ten days").public_id
    hundred_days = publish(secret, reviewer, "Hundred days").public_id
    now = timezone.now()
    Dataset.objects.filter(public_id=ten_days).update(published_at=now - timedelta(days=10))
    Dataset.objects.filter(public_id=hundred_days).update(published_at=now - timedelta(days=100))

    assert ids(uploadDate="today") == [fresh]
    assert ids(uploadDate="thisWeek") == [fresh]
    assert ids(uploadDate="thisMonth") == [fresh, ten_days]
    assert ids(uploadDate="thisYear") == [fresh, ten_days, hundred_days]
    assert_error(api().get("/api/datasets", {"uploadDate": "yesterday"}), 400)


def test_sample_and_pricing_filters(provider, reviewer):
    secret = provider.secret
    with_sample = publish(secret, reviewer, "With sample", sample=make_archive(1_000)).public_id
    paid = publish(
        secret, reviewer, "Paid", isPaid=True, basePriceCents=1999, currency="usd"
    ).public_id
    plain = publish(secret, reviewer, "Plain").public_id

    assert ids(sample="true") == [with_sample]
    assert ids(pricing="compensated") == [paid]
    assert ids(pricing="free") == [plain, with_sample]
    assert ids(sample="true", pricing="compensated") == []
    assert ids(sample="true", pricing="free") == [with_sample]
    assert listing()["total"] == 3
    assert_error(api().get("/api/datasets", {"pricing": "gratis"}), 400)


# --- E1: paging -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "101"}, {"limit": "abc"}, {"page": "0"}, {"page": "x"}]
)
def test_malformed_paging_is_400_with_the_envelope(params):
    body = assert_error(api().get("/api/datasets", params), 400)
    field = next(iter(params))
    assert body["message"].startswith(f"{field}:")
    assert field in body["fields"]


def test_page_past_the_end_is_empty_with_the_real_total(provider, reviewer):
    secret = provider.secret
    for n in range(3):
        publish(secret, reviewer, f"Dataset {n}")
    assert len(listing(limit=2, page=2)["items"]) == 1
    body = listing(limit=2, page=3)
    assert body["items"] == [] and body["total"] == 3
    body = listing(limit=100, page=99)
    assert body["items"] == [] and body["total"] == 3
    assert listing(limit=1)["limit"] == 1 and len(listing(limit=1)["items"]) == 1
    assert len(listing(limit=100)["items"]) == 3


def test_paging_covers_every_dataset_once_even_with_ties(provider, reviewer):
    secret = provider.secret
    # Distinct archives (identical ones are refused as duplicates), then every sort key tied.
    expected = {publish(secret, reviewer, f"Tied corpus {n}").public_id for n in range(30)}
    Dataset.objects.update(published_at=timezone.now() - timedelta(hours=1), size_bytes=2_000)
    assert Dataset.objects.values("size_bytes").distinct().count() == 1

    variants = [
        {},
        {"sort": "newest", "sortDirection": "asc"},
        {"sort": "size"},
        {"sort": "size", "sortDirection": "asc"},
        {"q": "tied"},
        {"q": "tied", "sortDirection": "asc"},
    ]
    for params in variants:
        seen = []
        for page in range(1, 6):
            body = listing(limit=7, page=page, **params)
            assert body["total"] == 30
            assert len(body["items"]) == (7 if page < 5 else 2)
            seen += [item["id"] for item in body["items"]]
        assert len(seen) == 30 and set(seen) == expected, params
        assert listing(limit=7, page=6, **params)["items"] == []
        # The same request gives the same order.
        again = [i for p in range(1, 6) for i in ids(limit=7, page=p, **params)]
        assert again == seen, params


def test_list_query_count_does_not_grow_with_the_catalogue(provider, reviewer):
    secret = provider.secret
    publish(secret, reviewer, "Dataset 0", sample=make_archive(500))
    variants = [{"limit": 100}, {"limit": 100, "q": "dataset", "task": "ASR", "sort": "size"}]

    def measure():
        counts, bodies = [], []
        for params in variants:
            with CaptureQueriesContext(connection) as queries:
                bodies.append(listing(**params))
            counts.append(len(queries))
        return counts, bodies

    one, bodies = measure()
    assert [b["total"] for b in bodies] == [1, 1]

    other_secret, _ = make_key(uploads=True)
    for n in range(1, 50):
        publish(other_secret if n % 2 else secret, reviewer, f"Dataset {n}")
    fifty, bodies = measure()
    assert [len(b["items"]) for b in bodies] == [50, 50]
    assert fifty == one
    assert max(one) <= 3


# --- E2 ---------------------------------------------------------------------------------------


def test_filter_values_come_from_listed_published_datasets_only(provider, reviewer):
    secret = provider.secret
    with CaptureQueriesContext(connection) as empty_queries:
        empty = api().get("/api/datasets/filters").json()
    assert empty == {"tasks": empty["tasks"], "locales": [], "licenses": [], "formats": []}
    assert sorted(empty["tasks"]) == sorted(TASKS)

    publish(secret, reviewer, "Public", locale="en", licenseAbbreviation="CC-BY-4.0", format="TSV")
    publish(
        secret,
        reviewer,
        "Restricted",
        visibility="restricted",
        locale="de",
        licenseAbbreviation="MIT",
        format="WAV",
    )
    publish(
        secret,
        reviewer,
        "Private",
        visibility="private",
        locale="fr",
        licenseAbbreviation="CC0-1.0",
        format="MP3",
    )
    removed = publish(
        secret, reviewer, "Removed", locale="es", licenseAbbreviation="Apache-2.0", format="FLAC"
    )
    dataset_remove(dataset=removed, actor=reviewer, reason="Takedown request")
    # Submitted but never approved: not in the catalogue.
    client = api(secret)
    sid = client.post("/api/submissions", {"name": "Pending"}, format="json").json()["submission"][
        "id"
    ]
    pending = {**DATASHEET, "locale": "pt", "licenseAbbreviation": "GPL-3.0", "format": "XML"}
    client.patch(f"/api/submissions/{sid}", pending, format="json")
    upload_bytes(client, sid, make_archive(2_000))
    client.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
    assert Submission.objects.get(public_id=sid).status == "in_review"

    with CaptureQueriesContext(connection) as queries:
        response = api().get("/api/datasets/filters")
    assert response.status_code == 200
    body = response.json()
    assert sorted(body["tasks"]) == sorted(TASKS)
    assert sorted(body["locales"]) == ["de", "en"]
    assert sorted(body["licenses"]) == ["CC-BY-4.0", "MIT"]
    assert sorted(body["formats"]) == ["TSV", "WAV"]
    assert len(queries) == len(empty_queries)


# --- E3 ---------------------------------------------------------------------------------------


def test_details_by_id_and_by_slug(provider, reviewer):
    secret, key = provider.secret, provider.key
    data = make_archive(5_000)
    dataset = publish(secret, reviewer, "Welsh read speech", data=data)
    by_id = api().get(f"/api/datasets/{dataset.public_id}")
    assert by_id.status_code == 200
    card = by_id.json()
    assert api().get(f"/api/datasets/{dataset.slug}").json() == card
    assert card["id"] == dataset.public_id and isinstance(card["id"], str)
    assert card["slug"] == dataset.slug == "welsh-read-speech"
    assert card["filename"] == "welsh-read-speech-v1.tar.gz"
    assert card["checksum"] == hashlib.sha256(data).hexdigest()
    assert card["sizeBytes"] == len(data) and isinstance(card["sizeBytes"], int)
    assert card["organization"] == {"name": key.organization.name, "slug": key.organization.slug}
    assert isinstance(card["createdAt"], str)
    assert card["pricing"]["isPaid"] is False and card["pricing"]["totalPriceCents"] is None
    # E1 items have the same shape as E3.
    assert listing()["items"] == [card]

    for unknown in ("ds00000000000000000000", "no-such-dataset"):
        body = assert_error(api().get(f"/api/datasets/{unknown}"), 404)
        assert body["error"] == "not_found"


def test_removed_dataset_is_410_and_unlisted(provider, reviewer):
    secret = provider.secret
    dataset = publish(secret, reviewer, "Soon gone")
    kept = publish(secret, reviewer, "Kept")
    dataset_remove(dataset=dataset, actor=reviewer, reason="Licence withdrawn")
    for ref in (dataset.public_id, dataset.slug):
        body = assert_error(api().get(f"/api/datasets/{ref}"), 410)
        assert body["error"] == "dataset_removed"
    # Even its owner gets 410.
    assert api(secret).get(f"/api/datasets/{dataset.public_id}").status_code == 410
    assert ids() == [kept.public_id]


def test_private_dataset_is_unlisted_and_unknown_to_outsiders(provider, reviewer):
    secret = provider.secret
    data = make_archive(3_000)
    private = publish(secret, reviewer, "Internal corpus", visibility="private", data=data)
    public = publish(secret, reviewer, "Open corpus")
    assert ids() == [public.public_id]
    assert listing(q="internal")["total"] == 0

    # Security finding 11: no reduced record (no filename, checksum or size) for outsiders.
    for ref in (private.public_id, private.slug):
        assert_error(api().get(f"/api/datasets/{ref}"), 404, "not_found")

    outsider = api(make_key()[0])
    for ref in (private.public_id, private.slug):
        body = assert_error(outsider.get(f"/api/datasets/{ref}"), 404, "not_found")
        assert private.latest_version.filename not in str(body)
    assert hashlib.sha256(data).hexdigest() == private.latest_version.sha256

    owner = api(secret)
    for ref in (private.public_id, private.slug):
        card = owner.get(f"/api/datasets/{ref}").json()
        assert card["name"] == "Internal corpus" and card["visibility"] == "private"
        assert card["slug"] == private.slug and "pricing" in card
    # The owner's listing is the public catalogue too.
    assert [i["id"] for i in owner.get("/api/datasets").json()["items"]] == [public.public_id]


def test_slug_filters_is_never_issued(provider, reviewer):
    secret = provider.secret
    dataset = publish(secret, reviewer, "Filters", locale="en")
    assert dataset.slug != "filters"
    assert not Dataset.objects.filter(slug="filters").exists()
    for client in (api(), api(secret)):
        body = client.get("/api/datasets/filters").json()
        assert set(body) == {"tasks", "locales", "licenses", "formats"}
        assert body["locales"] == ["en"]
    card = api().get(f"/api/datasets/{dataset.slug}").json()
    assert card["id"] == dataset.public_id and card["name"] == "Filters"


# --- pricing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "fee"), [("0.05", 100), ("0.10", 200), ("0.2", 400), ("0", 0)])
def test_pricing_object(provider, reviewer, settings, rate, fee):
    secret = provider.secret
    settings.PLATFORM_FEE_RATE = rate
    paid = publish(secret, reviewer, "Paid", isPaid=True, basePriceCents=1999, currency="usd")
    card = api().get(f"/api/datasets/{paid.public_id}").json()
    assert card["pricing"] == {
        "isPaid": True,
        "basePriceCents": 1999,
        "currency": "usd",
        "platformFeeRate": rate,
        "platformFeeCents": fee,
        "totalPriceCents": 1999 + fee,
    }
    assert card["isPaid"] is True and card["basePriceCents"] == 1999
    assert isinstance(card["id"], str) and isinstance(card["checksum"], str)
    assert listing()["items"][0]["pricing"] == card["pricing"]
