"""A contributor named in two organisations' share tables: neither organisation's responses
echo the name the other typed or the other's invitation and claim status (security finding 7)."""

import pytest
from django.core import mail

from contributors.share_selectors import CLAIMED, INVITED, NOT_INVITED, current_shares
from marketplace.models import Dataset
from tests.catalogue_helpers import publish_dataset
from tests.parties import claim_token, party, verified_address

pytestmark = pytest.mark.django_db

EMAIL = "ana@example.org"


def _dataset(owner) -> Dataset:
    _sid, version = publish_dataset(owner.secret, name=f"Speech of {owner.org.name}")
    return Dataset.objects.get(pk=version.dataset_id)


def _set(owner, dataset, name):
    line = {"email": EMAIL, "weight": 1} | ({"name": name} if name else {})
    response = owner.client.put(
        f"/api/datasets/{dataset.public_id}/shares",
        {"basis": "weight", "shares": [{"organization": True, "weight": 1}, line]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    return response.json()


def _line(body):
    return next(s for s in body["shares"] if not s["organization"])


def test_another_organisations_name_and_claim_never_leak():
    alpha, beta = party(uploads=True), party(uploads=True)
    alpha_set, beta_set = _dataset(alpha), _dataset(beta)

    _set(alpha, alpha_set, "Ana Secret-Surname")
    [invitation] = [m for m in mail.outbox if m.to == [EMAIL]]
    person = party()
    person.client  # noqa: B018 - the person has an account of their own
    verified_address(person.user, EMAIL)
    claimed = person.client.post(
        "/api/contributors/claim", {"token": claim_token(invitation.body)}, format="json"
    )
    assert claimed.status_code == 200, claimed.json()

    # Alpha sees its own name and its own invitation claimed.
    alpha_line = _line(alpha.client.get(f"/api/datasets/{alpha_set.public_id}/shares").json())
    assert (alpha_line["name"], alpha_line["claimed"]) == ("Ana Secret-Surname", True)

    # Beta names the same person without a name: nothing of Alpha's comes back.
    for body in (
        _set(beta, beta_set, ""),
        beta.client.get(f"/api/datasets/{beta_set.public_id}/shares").json(),
    ):
        line = _line(body)
        assert line["name"] == "" and line["claimed"] is False
        assert "Secret-Surname" not in str(body)

    # The web share tables read the same way.
    beta_rows = current_shares(beta_set, limit=10)
    [row] = [r for r in beta_rows.rows if not r.organization]
    assert row.name == "" and row.status == NOT_INVITED
    assert beta_rows.counts[CLAIMED] == 0 and beta_rows.counts[NOT_INVITED] == 1
    alpha_rows = current_shares(alpha_set, limit=10)
    assert alpha_rows.counts[CLAIMED] == 1
    assert [r.status for r in alpha_rows.rows if not r.organization] == [CLAIMED]


def test_another_organisations_live_invitation_is_not_shown():
    alpha, beta = party(uploads=True), party(uploads=True)
    alpha_set, beta_set = _dataset(alpha), _dataset(beta)
    _set(alpha, alpha_set, "Ana")
    assert _line(_set(beta, beta_set, ""))["claimed"] is False
    alpha_rows = current_shares(alpha_set, limit=10)
    beta_rows = current_shares(beta_set, limit=10)
    assert [r.status for r in alpha_rows.rows if not r.organization] == [INVITED]
    assert [r.status for r in beta_rows.rows if not r.organization] == [NOT_INVITED]
    assert beta_rows.counts[INVITED] == 0
