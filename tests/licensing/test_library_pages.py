"""The licensee's library (/library) and the public certificate check (/verify), server-side:
a grant bought through the orders API, paid on the Stripe emulator and confirmed by the webhook;
its certificate (the API's token), a download through a download session, receipts, access
requests; a refund through the emulator that revokes the grant; another organisation's objects
are 404; the page's query count does not grow with the grants; /verify says genuine or not,
never a 500, and spends the API's verification budget."""

import base64
import json
import re

import pytest
from django.db import connection
from django.template.defaultfilters import filesizeformat
from django.test import Client
from django.test.utils import CaptureQueriesContext

from licensing.models import DownloadSession, Grant, Order
from licensing.selectors import dataset_terms
from licensing.services.access_requests import access_request_create
from licensing.services.grants import grant_issue, grant_revoke
from marketplace.models import Visibility
from marketplace.payments import stripe_client
from tests.licensing.conftest import publish
from tests.licensing.test_orders import PRICE, deliver_committed, order_for, pay

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def bought(buyer, dataset) -> tuple[dict, str, Grant]:
    """Order, pay with the emulator's test card, webhook: (order, charge id, grant)."""
    order = order_for(buyer, dataset)
    charge = pay(order)
    deliver_committed("payment_intent.succeeded", order["paymentIntentId"])
    return order, charge, Grant.objects.get(order_ref=order["id"])


@pytest.fixture
def paid_dataset(provider):
    return publish(
        provider, "Swahili conversations", isPaid=True, basePriceCents=PRICE, currency="usd"
    )


def test_library_requires_sign_in_and_verify_does_not():
    assert Client().get("/library").status_code == 302
    assert Client().get("/library")["Location"].startswith("/accounts/login/")
    page = Client().get("/verify")
    assert page.status_code == 200 and "Verify a license certificate" in page.content.decode()


def test_library_lists_the_grant_its_receipt_and_access_requests(buyer, provider, paid_dataset):
    order, _charge, grant = bought(buyer, paid_dataset)
    restricted = publish(provider, "Restricted speech", visibility=Visibility.RESTRICTED)
    access_request_create(
        actor=buyer.actor,
        dataset=restricted,
        name="Ada",
        organization_name=buyer.org.name,
        intended_use="Training a Swahili ASR model",
    )
    html = browser(buyer.user).get("/library").content.decode()
    assert 'href="/library" aria-current="page">Library</a>' in html  # the nav link
    section = html[html.index(f'id="grant-{grant.public_id}"') :]
    assert "Swahili conversations" in section
    assert 'data-grant-status="active"' in section
    assert grant.terms_hash == dataset_terms(paid_dataset).hash and grant.terms_hash in section
    assert f'<data value="{order["totalPriceCents"]}" class="amount">26.25 USD</data>' in section
    assert f'href="/library/receipts/{order["id"]}"' in section
    assert f'href="/library/grants/{grant.public_id}/certificate"' in section
    assert f'action="/library/grants/{grant.public_id}/download"' in section
    assert paid_dataset.latest_version.sha256 in section
    size = paid_dataset.latest_version.size_bytes  # readable, and exact beside it
    assert f"{filesizeformat(size)} <small>({size} bytes)</small>" in section
    requests_part = html[html.index('id="requests-heading"') :]
    assert "Restricted speech" in requests_part and "Pending" in requests_part

    receipt = browser(buyer.user).get(f"/library/receipts/{order['id']}").content.decode()
    for cents in (PRICE, order["platformFeeCents"], order["totalPriceCents"]):
        assert f'<data value="{cents}"' in receipt
    assert order["paymentIntentId"] in receipt


def test_certificate_view_and_download_are_the_apis(buyer, paid_dataset):
    _order, _charge, grant = bought(buyer, paid_dataset)
    api = buyer.client.get(f"/api/grants/{grant.public_id}/certificate").json()
    client = browser(buyer.user)
    download = client.get(f"/library/grants/{grant.public_id}/certificate.jws")
    assert download.status_code == 200 and download["Content-Type"] == "application/jose"
    assert "attachment" in download["Content-Disposition"]
    assert download.content.decode() == api["certificate"]
    page = client.get(f"/library/grants/{grant.public_id}/certificate").content.decode()
    assert api["certificate"] in page  # the token, and the verify form carrying it
    assert "Swahili conversations" in page and grant.terms_hash in page
    assert f'<data value="{grant.price_paid_cents}"' in page
    assert "/.well-known/jwks.json" in page and "PyJWKClient" in page


def test_download_redirects_to_a_presigned_url_then_a_refund_refuses_it(buyer, paid_dataset):
    order, charge, grant = bought(buyer, paid_dataset)
    client = browser(buyer.user)
    response = client.post(f"/library/grants/{grant.public_id}/download")
    assert response.status_code == 302
    assert paid_dataset.latest_version.archive_key in response["Location"]
    assert "X-Amz-Signature" in response["Location"] or "Signature" in response["Location"]
    session = DownloadSession.objects.get(organization=buyer.org)
    assert (session.grant_id, session.user_id) == (grant.pk, buyer.user.pk)

    stripe_client().refunds.create(
        params={"payment_intent": order["paymentIntentId"], "amount": order["totalPriceCents"]}
    )
    deliver_committed("charge.refunded", charge)
    assert Order.objects.get(public_id=order["id"]).status == Order.Status.REFUNDED

    html = client.get("/library").content.decode()
    section = html[html.index(f'id="grant-{grant.public_id}"') :]
    assert 'data-grant-status="revoked"' in section and "Refunded" in section
    refused = client.post(f"/library/grants/{grant.public_id}/download", follow=True)
    assert refused.redirect_chain == [("/library", 302)]
    text = refused.content.decode()
    assert "was revoked on" in text and "order fully refunded" in text
    assert DownloadSession.objects.filter(organization=buyer.org).count() == 1
    receipt = client.get(f"/library/receipts/{order['id']}").content.decode()
    assert f'<data value="{order["totalPriceCents"]}"' in receipt and "Refunded" in receipt


def test_another_organisations_grant_certificate_download_and_receipt_are_404(
    buyer, outsider, paid_dataset
):
    order, _charge, grant = bought(buyer, paid_dataset)
    client = browser(outsider.user)
    for path in (
        f"/library/grants/{grant.public_id}/certificate",
        f"/library/grants/{grant.public_id}/certificate.jws",
        f"/library/receipts/{order['id']}",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/library/grants/{grant.public_id}/download").status_code == 404
    assert not DownloadSession.objects.exists()
    assert grant.public_id not in client.get("/library").content.decode()


def _library_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/library").status_code == 200
    return len(queries)


def test_library_query_count_does_not_grow_with_grants(buyer, provider, paid_dataset):
    bought(buyer, paid_dataset)
    client = browser(buyer.user)
    client.get("/library")  # the session's organisation settled
    one = _library_queries(client)
    for name in ("Second speech", "Third speech"):
        dataset = publish(provider, name)
        grant_issue(
            organization=buyer.org,
            dataset=dataset,
            terms_hash=dataset_terms(dataset).hash,
            source=Grant.Source.STAFF,
            actor=None,
        )
    restricted = publish(provider, "Restricted speech", visibility=Visibility.RESTRICTED)
    access_request_create(
        actor=buyer.actor,
        dataset=restricted,
        name="Ada",
        organization_name=buyer.org.name,
        intended_use="Research",
    )
    assert Grant.objects.filter(organization=buyer.org).count() == 3
    assert _library_queries(client) == one


# --- /verify ------------------------------------------------------------------------------------


def _tampered(token: str) -> str:
    """The same signature over claims that say something else (a higher price)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["price"]["paidCents"] = 1
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_verify_says_genuine_and_active_then_revoked(buyer, paid_dataset):
    _order, _charge, grant = bought(buyer, paid_dataset)
    token = buyer.client.get(f"/api/grants/{grant.public_id}/certificate").json()["certificate"]
    page = Client().post("/verify", {"certificate": token})
    html = page.content.decode()
    assert page.status_code == 200
    assert "Genuine" in html and "the grant is in force" in html and "Not genuine" not in html
    for shown in ("Swahili conversations", buyer.org.name, grant.terms_hash, "Version 1"):
        assert shown in html, shown
    assert f'<data value="{grant.price_paid_cents}"' in html

    grant_revoke(grant=grant, actor=None, reason="takedown")
    html = Client().post("/verify", {"certificate": token}).content.decode()
    assert "Genuine" in html and "Revoked" in html and "the grant is in force" not in html


def test_verify_a_tampered_or_malformed_certificate(buyer, paid_dataset):
    _order, _charge, grant = bought(buyer, paid_dataset)
    token = buyer.client.get(f"/api/grants/{grant.public_id}/certificate").json()["certificate"]
    page = Client().post("/verify", {"certificate": _tampered(token)})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Not genuine" in html and "Genuine</span>" not in html.replace("Not genuine", "")

    for junk in ("not a certificate", "a.b.c", "é" * 50, "\x00" * 10):
        page = Client().post("/verify", {"certificate": junk})
        assert page.status_code == 400, junk
        assert 'aria-invalid="true"' in page.content.decode(), junk
    empty = Client().post("/verify", {"certificate": ""})
    assert empty.status_code == 400 and "This field is required." in empty.content.decode()
    too_long = Client().post("/verify", {"certificate": "a" * 100_001})
    assert too_long.status_code == 400


def test_verify_spends_the_apis_verification_budget(settings, buyer, paid_dataset):
    _order, _charge, grant = bought(buyer, paid_dataset)
    token = buyer.client.get(f"/api/grants/{grant.public_id}/certificate").json()["certificate"]
    settings.API_THROTTLE_SCOPES = {
        **settings.API_THROTTLE_SCOPES,
        "certificate_verify": {"caller": "2/min", "ip": "100/min"},
    }
    client = Client()
    assert [client.post("/verify", {"certificate": token}).status_code for _ in range(2)] == [
        200,
        200,
    ]
    spent = client.post("/verify", {"certificate": token})
    assert spent.status_code == 429
    assert re.search(
        r"Too many certificate checks from you: try again in \d+ seconds", spent.content.decode()
    )
    # The API's budget is the same one (same caller, the IP address).
    assert (
        client.post(
            "/api/certificates/verify", {"certificate": token}, content_type="application/json"
        ).status_code
        == 429
    )


def test_every_version_downloads_from_the_library(provider, buyer, paid_dataset):
    """A grant covers every version: each row of the versions table downloads its own archive;
    an unknown or malformed version is refused with a readable message and no session."""
    from marketplace.models import DatasetVersion, Submission
    from marketplace.services.review import submission_approve
    from tests.catalogue_helpers import make_archive, upload_bytes
    from tests.factories import make_user

    _order, _charge, grant = bought(buyer, paid_dataset)
    submission = Submission.objects.get(dataset=paid_dataset)
    upload_bytes(provider.client, submission.public_id, make_archive(3_000, seed=b"v2"))
    submission.refresh_from_db()
    submission_approve(submission=submission, actor=make_user(is_staff=True))
    first, second = DatasetVersion.objects.filter(dataset=paid_dataset).order_by("number")
    assert first.archive_key != second.archive_key

    client = browser(buyer.user)
    html = client.get("/library").content.decode()
    assert html.count('name="version"') == 2 and "superseded by a later version" in html
    for version in (first, second):
        response = client.post(
            f"/library/grants/{grant.public_id}/download", {"version": str(version.number)}
        )
        assert response.status_code == 302 and version.archive_key in response["Location"]
    sessions = DownloadSession.objects.filter(organization=buyer.org).order_by("pk")
    assert [s.version_id for s in sessions] == [first.pk, second.pk]
    for bad, message in (("7", "has no version 7"), ("x1", "is not a version number")):
        refused = client.post(
            f"/library/grants/{grant.public_id}/download", {"version": bad}, follow=True
        )
        assert refused.redirect_chain == [("/library", 302)]
        assert message in refused.content.decode()
    assert DownloadSession.objects.filter(organization=buyer.org).count() == 2
