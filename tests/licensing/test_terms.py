"""Licenses and dataset terms: the catalogue and custom licenses, flags and the narrowing rule,
the rendered text and its hash, acceptance through the API and on the web page."""

import hashlib

import pytest
from datacollective import License as SdkLicense
from django.test import Client

from licensing.models import License, TermsAcceptance, TermsDocument
from licensing.selectors import dataset_terms
from licensing.terms import LicenseInfo, render
from marketplace.models import AuditEvent
from marketplace.services.identity import membership_add
from tests.assertions import assert_error
from tests.catalogue_helpers import api
from tests.factories import make_org, make_user
from tests.licensing.conftest import accept_terms, publish

pytestmark = pytest.mark.django_db


def terms_url(dataset) -> str:
    return f"/api/datasets/{dataset.public_id}/terms"


# --- licenses --------------------------------------------------------------------------------


def test_catalogue_has_exactly_the_contract_license_identifiers():
    seeded = set(
        License.objects.filter(organization__isnull=True).values_list("identifier", flat=True)
    )
    assert seeded == {member.value for member in SdkLicense}
    assert not License.objects.filter(organization__isnull=True, reviewed=False).exists()


def test_licenses_are_filtered_by_flag_and_feed_the_catalogue_filter(provider):
    body = api().get("/api/licenses").json()
    assert body["total"] == 25 and len(body["ids"]) == 25
    cc_by = next(item for item in body["items"] if item["id"] == "CC-BY-4.0")
    assert cc_by["flags"] == {
        "commercialUse": True,
        "derivatives": True,
        "modelTraining": True,
        "shareAlike": False,
        "attribution": True,
    }
    commercial = api().get("/api/licenses", {"commercialUse": "true"}).json()["ids"]
    assert "CC-BY-4.0" in commercial and "MIT" in commercial
    assert "CC-BY-NC-4.0" not in commercial and "CC-BY-NC-SA-4.0" not in commercial
    no_copyleft = api().get(
        "/api/licenses", {"commercialUse": "true", "shareAlike": "false", "attribution": "false"}
    )
    assert sorted(no_copyleft.json()["ids"]) == ["CC0-1.0", "Unlicense"]
    assert_error(api().get("/api/licenses", {"commercialUse": "maybe"}), 400)

    # The identifiers go to E1 as repeated `license=`.
    publish(provider, "Open speech", licenseAbbreviation="CC-BY-4.0")
    publish(provider, "Research speech", licenseAbbreviation="CC-BY-NC-4.0")
    listing = api().get("/api/datasets", {"license": commercial}).json()
    assert [item["name"] for item in listing["items"]] == ["Open speech"]


def test_custom_license_comes_from_the_datasheet_with_restrictive_flags(provider, buyer):
    dataset = publish(
        provider,
        "Custom licensed",
        licenseAbbreviation="LicenseRef-Acme-Data-1.0",
        license="Acme Data License: evaluation only, no redistribution.",
        licenseUrl="https://acme.example/license",
    )
    row = License.objects.get(identifier="LicenseRef-Acme-Data-1.0")
    assert row.organization_id == provider.org.pk and not row.reviewed
    assert row.url == "https://acme.example/license"
    assert (row.commercial_use, row.derivatives, row.model_training) == (False, False, False)

    terms = api().get(terms_url(dataset)).json()
    assert terms["license"] == {
        "id": "LicenseRef-Acme-Data-1.0",
        "name": "Acme Data License: evaluation only, no redistribution.",
        "url": "https://acme.example/license",
        "custom": True,
        "flags": {
            "commercialUse": False,
            "derivatives": False,
            "modelTraining": False,
            "shareAlike": False,
            "attribution": True,
        },
    }
    assert "evaluation only, no redistribution" in terms["text"]
    listed = api().get("/api/licenses", {"commercialUse": "false"}).json()["ids"]
    assert "LicenseRef-Acme-Data-1.0" in listed

    # Staff review the flags: the terms (and their hash) change, buyers accept again.
    old_hash = accept_terms(buyer, dataset)
    License.objects.filter(pk=row.pk).update(model_training=True, reviewed=True)
    new = api().get(terms_url(dataset)).json()
    assert new["flags"]["modelTraining"] is True and new["termsHash"] != old_hash


# --- the rule: additive, the stricter wins, flags only narrow ---------------------------------

OPEN = LicenseInfo(
    identifier="CC-BY-4.0",
    name="Creative Commons Attribution 4.0 International",
    url="https://creativecommons.org/licenses/by/4.0/",
    text="",
    notes="",
    custom=False,
    flags={
        "commercial_use": True,
        "derivatives": True,
        "model_training": True,
        "share_alike": False,
        "attribution": True,
    },
)
NON_COMMERCIAL = LicenseInfo(
    **{
        **OPEN.__dict__,
        "identifier": "CC-BY-NC-4.0",
        "flags": {**OPEN.flags, "commercial_use": False},
    }
)


def terms_of(license=OPEN, restrictions="", forbidden="", conditions=""):
    return render(
        dataset_id="dsexample",
        license=license,
        restrictions=restrictions,
        forbidden_usage=forbidden,
        additional_conditions=conditions,
    )


def test_datasheet_narrows_flags():
    assert terms_of().flags == OPEN.flags and terms_of().narrowed == ()
    narrowed = terms_of(
        restrictions="Non-commercial research only.",
        forbidden="Training generative models; re-identifying speakers.",
        conditions="Redistribute under the same licence (share-alike).",
    )
    assert narrowed.flags == {
        "commercial_use": False,
        "derivatives": True,
        "model_training": False,
        "share_alike": True,
        "attribution": True,
    }
    assert set(narrowed.narrowed) == {"commercial_use", "model_training", "share_alike"}
    assert "- Commercial use: not allowed (narrowed by the provider's datasheet)" in narrowed.text
    assert terms_of(forbidden="Any derivative works.").flags["derivatives"] is False


def test_datasheet_never_widens_flags():
    widened = terms_of(
        NON_COMMERCIAL,
        restrictions="Commercial use is allowed. No attribution needed.",
        conditions="You may use it commercially.",
    )
    assert widened.flags["commercial_use"] is False
    assert widened.flags["attribution"] is True
    # Permissive statements are text in the terms, but the stricter license wins.
    assert "Commercial use is allowed" in widened.text
    assert "Where they conflict, the stricter one applies." in widened.text


def test_hash_is_stable_and_covers_every_part():
    a = terms_of(restrictions="Line one\r\nLine two  \n", forbidden="x")
    b = terms_of(restrictions="Line one\nLine two", forbidden="x\n")
    assert a.text == b.text and a.hash == b.hash
    assert a.hash == hashlib.sha256(a.text.encode()).hexdigest()
    assert terms_of(restrictions="Line one").hash != a.hash
    assert terms_of(NON_COMMERCIAL).hash != terms_of().hash
    assert terms_of(conditions="Cite us.").hash != terms_of().hash
    for section in ("1. LICENSE", "3. RESTRICTIONS", "4. FORBIDDEN USAGE", "5. ADDITIONAL"):
        assert section in a.text


# --- API: read and accept ----------------------------------------------------------------------


def test_get_terms_is_public_and_stable(provider):
    dataset = publish(
        provider,
        restrictions="Only for speech recognition research.",
        forbiddenUsage="Voice cloning of the speakers.",
        additionalConditions="Cite the Welsh Speech Project.",
    )
    first = api().get(terms_url(dataset))
    assert first.status_code == 200
    body = first.json()
    assert body["datasetId"] == dataset.public_id
    assert body["restrictions"] == "Only for speech recognition research."
    assert body["forbiddenUsage"] == "Voice cloning of the speakers."
    assert body["additionalConditions"] == "Cite the Welsh Speech Project."
    assert body["license"]["id"] == "CC-BY-4.0"
    assert body["accepted"] is False
    assert body["termsHash"] == hashlib.sha256(body["text"].encode()).hexdigest()
    # By slug, anonymously, with a key, again: the same text and hash.
    assert api().get(f"/api/datasets/{dataset.slug}/terms").json()["termsHash"] == body["termsHash"]
    assert provider.client.get(terms_url(dataset)).json()["termsHash"] == body["termsHash"]
    assert dataset_terms(dataset).hash == body["termsHash"]


def test_accept_records_who_when_where_and_exactly_which_version(provider, buyer):
    dataset = publish(provider)
    current = api().get(terms_url(dataset)).json()["termsHash"]
    response = buyer.client.post(
        terms_url(dataset),
        {"termsHash": current},
        format="json",
        REMOTE_ADDR="203.0.113.7",
        HTTP_USER_AGENT="curl/8.0",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["termsHash"] == current and body["via"] == "api"
    acceptance = TermsAcceptance.objects.get(public_id=body["id"])
    assert acceptance.organization == buyer.org and acceptance.user == buyer.user
    assert acceptance.api_key == buyer.key and acceptance.ip == "203.0.113.7"
    assert acceptance.document.text == api().get(terms_url(dataset)).json()["text"]
    assert AuditEvent.objects.filter(action="terms.accept", object_id=str(acceptance.pk)).exists()
    view = buyer.client.get(terms_url(dataset)).json()
    assert view["accepted"] is True and view["acceptedAt"]
    # Another organisation has not accepted anything.
    assert api(provider.secret).get(terms_url(dataset)).json()["accepted"] is False


def test_stale_or_malformed_hash_is_refused(provider, buyer):
    dataset = publish(provider)
    current = api().get(terms_url(dataset)).json()["termsHash"]
    stale = hashlib.sha256(b"an older version").hexdigest()
    body = assert_error(
        buyer.client.post(terms_url(dataset), {"termsHash": stale}, format="json"),
        409,
        "terms_changed",
    )
    assert body["currentTermsHash"] == current and current in body["message"]
    assert_error(buyer.client.post(terms_url(dataset), {"termsHash": "abc"}, format="json"), 400)
    assert_error(buyer.client.post(terms_url(dataset), {}, format="json"), 400)
    assert_error(api().post(terms_url(dataset), {"termsHash": current}, format="json"), 401)
    assert_error(
        api("dc_nope_nope").post(terms_url(dataset), {"termsHash": current}, format="json"), 401
    )
    assert not TermsAcceptance.objects.exists()


def test_unknown_removed_and_private_datasets(provider, buyer):
    assert_error(api().get("/api/datasets/dsnope/terms"), 404)
    private = publish(provider, "Internal", visibility="private")
    body = assert_error(buyer.client.get(terms_url(private)), 404, "not_found")
    assert "private" not in body["message"]
    assert_error(buyer.client.get(f"/api/datasets/{private.slug}/terms"), 404)
    assert provider.client.get(terms_url(private)).status_code == 200
    digest = provider.client.get(terms_url(private)).json()["termsHash"]
    assert_error(
        buyer.client.post(terms_url(private), {"termsHash": digest}, format="json"),
        404,
        "not_found",
    )

    from marketplace.services.review import dataset_remove

    removed = publish(provider, "Taken down")
    dataset_remove(dataset=removed, actor=make_user(is_staff=True), reason="Takedown")
    assert_error(api().get(terms_url(removed)), 410)


# --- web page ----------------------------------------------------------------------------------


@pytest.fixture
def web(settings):
    settings.ROOT_URLCONF = "tests.licensing.urls"


def test_web_page_needs_a_login(web, provider):
    dataset = publish(provider)
    response = Client().get(f"/datasets/{dataset.public_id}/terms")
    assert response.status_code == 302 and "/accounts/login/?next=" in response["Location"]


def test_web_page_shows_the_terms_and_records_an_acceptance(web, provider):
    dataset = publish(provider, restrictions="No voice cloning.")
    user = make_user()
    first, _ = make_org(name="Lab One", owner=user)
    second, _ = make_org(name="Lab Two")
    membership_add(organization=second, user=user)
    stranger_org, _ = make_org(name="Not Mine")
    browser = Client()
    browser.force_login(user)
    url = f"/datasets/{dataset.public_id}/terms"

    page = browser.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    terms = dataset_terms(dataset)
    assert terms.hash in html and "No voice cloning." in html
    assert "Lab One" in html and "Lab Two" in html and "Not Mine" not in html

    # Accepting for an organisation the user is not a member of is not possible.
    refused = browser.post(
        url, {"organization": stranger_org.pk, "terms_hash": terms.hash, "agree": "on"}
    )
    assert refused.status_code == 400
    assert not TermsAcceptance.objects.exists()

    done = browser.post(
        url,
        {"organization": second.pk, "terms_hash": terms.hash, "agree": "on"},
        REMOTE_ADDR="198.51.100.4",
    )
    assert done.status_code == 302
    acceptance = TermsAcceptance.objects.get()
    assert (acceptance.organization, acceptance.user, acceptance.via) == (second, user, "web")
    assert acceptance.api_key is None and acceptance.ip == "198.51.100.4"
    assert acceptance.terms_hash == terms.hash
    assert "Accepted for this version by: Lab Two" in browser.get(url).content.decode()

    # The same acceptance is what the API sees.
    assert TermsAcceptance.objects.filter(organization=second, terms_hash=terms.hash).exists()


def test_web_page_refuses_a_stale_version_and_shows_the_current_one(web, provider):
    dataset = publish(provider)
    user = make_user()
    org, _ = make_org(owner=user)
    browser = Client()
    browser.force_login(user)
    stale = hashlib.sha256(b"old").hexdigest()
    response = browser.post(
        f"/datasets/{dataset.public_id}/terms",
        {"organization": org.pk, "terms_hash": stale, "agree": "on"},
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "changed while you were reading" in html
    assert dataset_terms(dataset).hash in html
    assert not TermsAcceptance.objects.exists()
    assert not TermsDocument.objects.exists()


def test_private_dataset_page_is_for_members_only(web, provider):
    private = publish(provider, "Internal", visibility="private")
    outsider = make_user()
    make_org(owner=outsider)
    browser = Client()
    browser.force_login(outsider)
    assert browser.get(f"/datasets/{private.public_id}/terms").status_code == 404
    browser.force_login(provider.user)
    assert browser.get(f"/datasets/{private.public_id}/terms").status_code == 200


def test_license_list_is_one_query(provider):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as before:
        api().get("/api/licenses")
    for n in range(3):
        publish(provider, f"Custom {n}", licenseAbbreviation=f"LicenseRef-C{n}", license=f"L{n}")
    with CaptureQueriesContext(connection) as after:
        body = api().get("/api/licenses").json()
    assert body["total"] == 28
    assert len(after) == len(before) == 1


def test_client_ip_trusts_only_configured_proxies(settings):
    from django.test import RequestFactory

    from licensing.request_meta import client_ip, source_function

    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9"
    )
    assert client_ip(request) == "10.0.0.2"  # by default X-Forwarded-For is ignored
    settings.TRUSTED_PROXY_HOPS = 1
    assert client_ip(request) == "203.0.113.9"  # what our one proxy saw, not the spoofed one
    assert source_function("datacollective-python/0.7.0 (x) source function: load_dataset") == (
        "load_dataset"
    )
    assert source_function("curl/8") == ""
