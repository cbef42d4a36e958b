"""The catalogue's terms-flag, price-range and size-range filters of `GET /api/datasets`, on
datasets published the production way (API, moto, checks, staff approval). The flags filtered
on are the ones the dataset's terms show (the license's, narrowed by the datasheet); they follow
a staff change of a license's flags and a new version; prices are what a buyer pays."""

import importlib

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from licensing.models import License
from licensing.selectors import dataset_terms
from licensing.services.license_review import license_flags_set
from marketplace.models import Dataset, Submission
from marketplace.models.catalogue import LICENSE_FLAG_FIELDS
from marketplace.pricing import platform_fee_cents, pricing_object
from marketplace.selectors import _base_price_at_least
from marketplace.services.review import submission_approve
from tests.assertions import assert_error
from tests.catalogue_helpers import api, make_archive, publish_dataset, upload_bytes
from tests.factories import make_key
from tests.licensing.conftest import publish

pytestmark = pytest.mark.django_db

FLAGS = ("commercial_use", "derivatives", "model_training", "share_alike", "attribution")


def ids(query: str) -> set[str]:
    response = api().get(f"/api/datasets?limit=100&{query}")
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


def fresh(dataset: Dataset) -> Dataset:
    return Dataset.objects.select_related("latest_version").get(pk=dataset.pk)


def stored_flags(dataset: Dataset) -> dict[str, bool]:
    row = Dataset.objects.values(*LICENSE_FLAG_FIELDS.values()).get(pk=dataset.pk)
    return {flag: row[column] for flag, column in LICENSE_FLAG_FIELDS.items()}


@pytest.fixture
def shelf(provider):
    """Five datasets whose terms differ: CC-BY (all allowed), CC-BY-NC (not commercial),
    CC-BY-ND (no derivatives, no training), CC-BY narrowed by its datasheet (no training), and
    an unreviewed custom license (restrictive); free and paid, small and large."""
    return {
        "by": publish(provider, "Open speech", size=2_000),
        "nc": publish(
            provider,
            "Non-commercial speech",
            licenseAbbreviation="CC-BY-NC-4.0",
            isPaid=True,
            basePriceCents=500,
            size=20_000,
        ),
        "nd": publish(
            provider,
            "No-derivatives speech",
            licenseAbbreviation="CC-BY-ND-4.0",
            isPaid=True,
            basePriceCents=2_000,
            size=60_000,
        ),
        "narrowed": publish(
            provider,
            "Speech not for training",
            forbiddenUsage="Model training is not allowed.",
            isPaid=True,
            basePriceCents=1_000,
        ),
        "custom": publish(
            provider,
            "Speech under our own license",
            licenseAbbreviation="LicenseRef-Ours",
            license="Our own license text.",
        ),
    }


def public(shelf, *names) -> set[str]:
    return {shelf[name].public_id for name in names}


def test_the_stored_flags_are_the_flags_the_terms_show(shelf):
    for dataset in shelf.values():
        assert stored_flags(dataset) == dataset_terms(fresh(dataset)).flags, dataset.name
    assert stored_flags(shelf["narrowed"])["model_training"] is False
    assert stored_flags(shelf["by"])["model_training"] is True
    card = api().get(f"/api/datasets/{shelf['nc'].public_id}").json()
    assert card["licenseFlags"] == {
        "commercialUse": False,
        "derivatives": True,
        "modelTraining": True,
        "shareAlike": False,
        "attribution": True,
    }


def test_each_flag_filter_alone_and_combined(shelf):
    everything = public(shelf, *shelf)
    assert ids("") == everything
    cases = {
        "commercialUse=true": public(shelf, "by", "nd", "narrowed"),
        "commercialUse=false": public(shelf, "nc", "custom"),
        "modelTraining=true": public(shelf, "by", "nc"),
        "derivatives=true": public(shelf, "by", "nc", "narrowed"),
        "derivatives=false": public(shelf, "nd", "custom"),
        "shareAlike=false": everything,
        "shareAlike=true": set(),
        "attribution=true": everything,
        "commercialUse=true&modelTraining=true": public(shelf, "by"),
        "commercialUse=true&derivatives=false": public(shelf, "nd"),
        "modelTraining=true&pricing=compensated": public(shelf, "nc"),
        "commercialUse=true&license=CC-BY-4.0": public(shelf, "by", "narrowed"),
        # Empty is no filter (an unticked form field), as for the other keys.
        "commercialUse=&modelTraining=": everything,
    }
    for query, expected in cases.items():
        assert ids(query) == expected, query


def test_price_is_what_the_buyer_pays_and_ranges_include_their_ends(shelf):
    totals = {
        name: pricing_object(is_paid=True, base_price_cents=base)["totalPriceCents"]
        for name, base in (("nc", 500), ("narrowed", 1_000), ("nd", 2_000))
    }
    assert totals["nc"] > 500  # the fee is part of the price filtered on
    free = public(shelf, "by", "custom")
    cases = {
        f"minPriceCents={totals['nc']}": public(shelf, "nc", "narrowed", "nd"),
        f"minPriceCents={totals['nc'] + 1}": public(shelf, "narrowed", "nd"),
        f"maxPriceCents={totals['nc']}": free | public(shelf, "nc"),
        # The base price alone is below what the buyer pays: not a match.
        "maxPriceCents=500": free,
        f"maxPriceCents={totals['nc'] - 1}": free,
        "maxPriceCents=0": free,
        "minPriceCents=0": public(shelf, *shelf),
        "minPriceCents=1": public(shelf, "nc", "narrowed", "nd"),
        f"minPriceCents={totals['narrowed']}&maxPriceCents={totals['narrowed']}": public(
            shelf, "narrowed"
        ),
        f"minPriceCents={totals['nc']}&maxPriceCents={totals['nd'] - 1}": public(
            shelf, "nc", "narrowed"
        ),
        f"maxPriceCents={totals['nd']}&commercialUse=true": public(shelf, "by", "nd", "narrowed"),
        f"minPriceCents={totals['nd'] + 1}": set(),
    }
    for query, expected in cases.items():
        assert ids(query) == expected, query


def test_size_is_the_latest_archive_and_ranges_include_their_ends(shelf):
    sizes = {name: fresh(d).latest_version.size_bytes for name, d in shelf.items()}
    assert sizes["nd"] > sizes["nc"] > max(sizes["by"], sizes["custom"], sizes["narrowed"])
    small = public(shelf, "by", "custom", "narrowed")
    cases = {
        f"minSizeBytes={sizes['nc']}": public(shelf, "nc", "nd"),
        f"minSizeBytes={sizes['nc'] + 1}": public(shelf, "nd"),
        f"maxSizeBytes={sizes['nc']}": small | public(shelf, "nc"),
        f"maxSizeBytes={sizes['nc'] - 1}": small,
        f"minSizeBytes={sizes['nc']}&maxSizeBytes={sizes['nc']}": public(shelf, "nc"),
        f"minSizeBytes={sizes['nc']}&commercialUse=true": public(shelf, "nd"),
        f"maxSizeBytes={sizes['nc']}&minPriceCents=1&modelTraining=true": public(shelf, "nc"),
        "minSizeBytes=0": public(shelf, *shelf),
    }
    for query, expected in cases.items():
        assert ids(query) == expected, query


def test_flags_follow_a_staff_change_of_the_license(shelf, staff):
    nc_license = License.objects.get(organization__isnull=True, identifier="CC-BY-NC-4.0")
    assert shelf["nc"].public_id not in ids("commercialUse=true")  # and now cached
    license_flags_set(
        actor=staff,
        license=nc_license,
        flags={"commercial_use": True},
        notes=nc_license.notes,
        reviewed=True,
    )
    assert shelf["nc"].public_id in ids("commercialUse=true")
    assert stored_flags(shelf["nc"]) == dataset_terms(fresh(shelf["nc"])).flags

    # A license change never widens what a datasheet narrowed.
    by_license = License.objects.get(organization__isnull=True, identifier="CC-BY-4.0")
    license_flags_set(
        actor=staff, license=by_license, flags={"model_training": False}, notes="", reviewed=True
    )
    assert ids("modelTraining=true") == public(shelf, "nc")
    license_flags_set(
        actor=staff, license=by_license, flags={"model_training": True}, notes="", reviewed=True
    )
    assert ids("modelTraining=true") == public(shelf, "by", "nc")
    for dataset in shelf.values():
        assert stored_flags(dataset) == dataset_terms(fresh(dataset)).flags, dataset.name


def test_a_reviewed_custom_license_moves_only_its_own_datasets(shelf, provider, staff):
    # Another organisation's license of the same identifier and text is another license.
    other_secret, _ = make_key(uploads=True)
    _, version = publish_dataset(
        other_secret,
        name="Another organisation's speech",
        data=make_archive(2_000),
        licenseAbbreviation="LicenseRef-Ours",
        license="Our own license text.",
        reviewer=staff,
    )
    twin = version.dataset
    ours = License.objects.get(organization=provider.org, identifier="LicenseRef-Ours")
    license_flags_set(
        actor=staff,
        license=ours,
        flags={"commercial_use": True, "model_training": True},
        notes="",
        reviewed=True,
    )
    found = ids("commercialUse=true&modelTraining=true")
    assert shelf["custom"].public_id in found and twin.public_id not in found
    assert stored_flags(twin) == dataset_terms(fresh(twin)).flags
    assert stored_flags(shelf["custom"]) == dataset_terms(fresh(shelf["custom"])).flags


def test_a_new_version_keeps_the_flags_of_its_terms(provider, staff):
    # A published datasheet cannot be edited (its license neither): a new version is a new
    # archive under the same terms, and the flags are rewritten from them on publish.
    first = publish(provider, "Speech in two versions", licenseAbbreviation="CC-BY-NC-4.0")
    Dataset.objects.filter(pk=first.pk).update(allows_commercial_use=True)  # made stale
    submission = Submission.objects.get(dataset=first)
    upload_bytes(provider.client, submission.public_id, make_archive(3_000, seed=b"v2"))
    submission.refresh_from_db()
    submission_approve(submission=submission, actor=staff)
    second = fresh(first)
    assert second.latest_version.number == 2
    assert stored_flags(second) == dataset_terms(second).flags
    assert second.public_id in ids("commercialUse=false&modelTraining=true")


def test_bad_values_are_a_400_envelope(shelf):
    for query in (
        "commercialUse=maybe",
        "modelTraining=2",
        "minPriceCents=-1",
        "maxPriceCents=abc",
        "minSizeBytes=1.5",
        f"maxSizeBytes={2**70}",
        "minPriceCents=10&maxPriceCents=5",
        "minSizeBytes=10&maxSizeBytes=9",
    ):
        body = assert_error(api().get(f"/api/datasets?{query}"), 400)
        assert query.split("=")[0] in str(body), (query, body)


def test_the_filters_endpoint_keeps_its_four_lists(shelf):
    body = api().get("/api/datasets/filters").json()
    assert set(body) == {"tasks", "locales", "licenses", "formats"}
    assert all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in body.values())


def test_filtered_lists_run_in_a_constant_number_of_queries(provider):
    query = (
        "/api/datasets?limit=100&commercialUse=true&modelTraining=true&minPriceCents=0"
        "&maxPriceCents=100000&minSizeBytes=1&maxSizeBytes=100000000&q=speech"
    )

    def count() -> tuple[int, int]:
        cache.clear()  # the page built from the database, not the cache
        with CaptureQueriesContext(connection) as ctx:
            response = api().get(query)
        assert response.status_code == 200
        return len(ctx.captured_queries), response.json()["total"]

    publish(provider, "English speech 0")
    one, total = count()
    assert total == 1
    for n in range(1, 4):
        publish(provider, f"English speech {n}", isPaid=True, basePriceCents=600 + n)
    assert count() == (one, 4)


@pytest.mark.parametrize("rate", ["0.05", "0", "0.3333", "1.5"])
def test_the_base_price_bound_is_the_exact_inverse_of_the_total(rate):
    with override_settings(PLATFORM_FEE_RATE=rate):
        for total in range(0, 3_000):
            base = _base_price_at_least(total)
            assert base + platform_fee_cents(base) >= total
            assert base == 0 or (base - 1) + platform_fee_cents(base - 1) < total


def test_the_data_migration_fills_the_flags_of_existing_datasets(shelf):
    # As before the migration: every dataset with the columns' defaults.
    Dataset.objects.update(**{column: False for column in LICENSE_FLAG_FIELDS.values()})
    migration = importlib.import_module("marketplace.migrations.0013_fill_dataset_license_flags")
    migration.fill(apps, None)
    for dataset in shelf.values():
        assert stored_flags(dataset) == dataset_terms(fresh(dataset)).flags, dataset.name
