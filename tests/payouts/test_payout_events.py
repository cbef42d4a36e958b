"""`payout.paid` (issue 13 §1): when a payout line is confirmed paid, the organisation it paid
hears of it once, by webhook and by polling; a contributor paid as a person has no
organisation to tell."""

import pytest

from marketplace.models import Event
from payouts.services.runs import payout_run_create, payout_run_execute
from tests.catalogue_helpers import api
from tests.payouts.conftest import payee_of, set_shares
from tests.payouts.test_payout_runs import enable_payouts, sell_and_release

pytestmark = pytest.mark.django_db


def test_payout_paid_reaches_the_paid_organisation_once(version, seller, settings):
    settings.PAYOUT_THRESHOLD_CENTS = {"usd": 100}
    table = set_shares(
        version, seller.owner, [("org", 1), ("person@example.com", 1)], basis="weight"
    )
    for who in ("org", "person@example.com"):
        enable_payouts(payee_of(table, who))
    sell_and_release(version, refs=["ev1"], gross_cents=1000)
    run = payout_run_create(currency="usd")
    assert run.line_count == 2
    result = payout_run_execute(run=run)
    assert result.paid == 2
    payout_run_execute(run=run)  # a second execution confirms nothing new: no second event

    org_line = run.lines.get(payee=payee_of(table, "org"))
    events = list(Event.objects.filter(type="payout.paid"))
    assert [(e.organization_id, e.data["payoutLineId"]) for e in events] == [
        (seller.organization.pk, org_line.pk)
    ]
    assert events[0].data["amountCents"] == org_line.amount_cents
    assert events[0].data["transferId"] == org_line.transfer_id
    polled = api(seller.secret).get("/api/events", {"limit": 50}).json()["items"]
    assert [e["id"] for e in polled if e["type"] == "payout.paid"] == [events[0].public_id]
