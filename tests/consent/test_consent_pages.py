"""The consent-withdrawal web pages (server-rendered, Django's test client): the provider's page
of a dataset keeps what was typed and names the problem on bad input (and saves nothing), the
contributor's withdraw page refuses a dataset that does not name them, and a licensee cannot
acknowledge another organisation's manifest (issue 13 §2)."""

import pytest
from django.test import Client

from contributors.models import ConsentWithdrawal, MemberMapping
from licensing.models import DeletionManifest
from tests.consent.helpers import ALICE, BOB, buy, claimed, corpus, shared_corpus
from tests.parties import party

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:EdDSA is deprecated:UserWarning"),
]


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def shared(provider):
    return shared_corpus(provider)


def test_provider_page_mapping_and_recording(provider, shared):
    owner = browser(provider.user)
    base = f"/organization/datasets/{shared.dataset.public_id}/consent"
    assert owner.get(base).status_code == 200

    typed = f"{ALICE},clips/alice/\nnobody@example.org,clips/x/\n"
    response = owner.post(f"{base}/mapping", {"mapping": typed})
    assert response.status_code == 400
    page = response.content.decode()
    assert "nobody@example.org is not named" in page and "clips/alice/" in page
    assert not MemberMapping.objects.exists()

    good = f"{ALICE},clips/alice/\n{BOB},clips/bob/\n"
    response = owner.post(f"{base}/mapping", {"mapping": good})
    assert response.status_code == 302
    assert MemberMapping.objects.count() == 2

    response = owner.post(f"{base}/withdrawals", {"email": "nobody@example.org", "reason": "x"})
    assert response.status_code == 400
    assert "not a contributor of this dataset" in response.content.decode()
    assert not ConsentWithdrawal.objects.exists()

    response = owner.post(f"{base}/withdrawals", {"email": BOB, "reason": "by phone"})
    assert response.status_code == 302
    page = owner.get(base).content.decode()
    assert BOB in page and "by phone" in page and 'data-status="open"' in page


def test_contributor_withdraw_page(provider, shared, outsider):
    alice = claimed(shared.dataset, ALICE)
    other = corpus(provider, "Not hers")
    person = browser(alice.user)
    assert person.get(f"/me/contributions/{other.dataset.public_id}/withdraw").status_code == 404
    assert (
        browser(outsider.user)
        .get(f"/me/contributions/{shared.dataset.public_id}/withdraw")
        .status_code
        == 404
    )
    url = f"/me/contributions/{shared.dataset.public_id}/withdraw"
    response = person.post(url, {"reason": "y" * 2001})
    assert response.status_code == 400 and "y" * 2001 in response.content.decode()
    assert not ConsentWithdrawal.objects.exists()
    response = person.post(url, {"reason": "no more"})
    assert response.status_code == 302 and response["Location"] == "/me/contributions"
    assert ConsentWithdrawal.objects.get().reason == "no more"


def test_another_organisation_cannot_acknowledge(provider, shared, outsider):
    buyer = party()
    buy(buyer, shared.dataset)
    provider.client.post(
        f"/api/datasets/{shared.dataset.public_id}/consent-withdrawals",
        {"email": BOB},
        format="json",
    )
    manifest = DeletionManifest.objects.get()
    stranger = browser(outsider.user)
    url = f"/library/deletion-manifests/{manifest.public_id}/acknowledge"
    assert stranger.post(url).status_code == 404
    assert manifest.public_id not in stranger.get("/library/deletion-manifests").content.decode()
    manifest.refresh_from_db()
    assert manifest.acknowledged_at is None
    licensee = browser(buyer.user)
    assert licensee.post(url).status_code == 302
    manifest.refresh_from_db()
    assert manifest.acknowledged_by == buyer.user
