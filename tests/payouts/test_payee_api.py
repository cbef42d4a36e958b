"""GET /api/earnings and GET /api/payouts: the caller's organisation (owners) and the caller as
a claimed contributor; another payee's money is never visible; bounded query counts."""

import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contributors.models import Contributor
from contributors.services.invitations import contributor_claim, contributor_invite_send
from marketplace.actors import actor_for_member
from marketplace.services.identity import api_key_create, membership_add
from payouts.models import MICRO_PER_CENT
from payouts.services import refund_post, sale_post
from payouts.services.runs import payout_run_create, payout_run_execute
from tests.catalogue_helpers import api, publish_dataset
from tests.factories import make_key, make_user
from tests.parties import verified_address
from tests.payouts.conftest import payee_of, set_shares
from tests.payouts.test_payout_runs import enable_payouts, sell_and_release

pytestmark = pytest.mark.django_db
M = MICRO_PER_CENT
CLAIM_LINK = re.compile(r"/contributors/claim#token=(\S+)")


def claimed_client(email: str):
    """A user who signed up and claimed the contributor profile `email`, with a key of their
    own (in an organisation of their own)."""
    contributor = Contributor.objects.get(email=email)
    mail.outbox.clear()
    assert contributor_invite_send(contributor_id=contributor.pk)
    [message] = mail.outbox
    token = CLAIM_LINK.search(message.body).group(1)
    secret, key = make_key()
    contributor_claim(token=token, user=verified_address(key.user, email))
    return api(secret), key


@pytest.fixture
def shared(version, seller, settings):
    """The seller's dataset: 70 % organisation, 30 % ana; paid out once, then a new sale."""
    settings.PAYOUT_THRESHOLD_CENTS = {"usd": 100}
    table = set_shares(version, seller.owner, [("org", "70"), ("ana@example.com", "30")])
    org, ana = payee_of(table, "org"), payee_of(table, "ana@example.com")
    enable_payouts(org)
    enable_payouts(ana)
    sell_and_release(version, refs=["e1"])  # 1000: org 700, ana 300 available
    run = payout_run_create(currency="usd")
    payout_run_execute(run=run)
    sale_post(
        order_ref="e2",
        dataset_version=version,
        gross_cents=2000,
        platform_fee_cents=0,
        currency="usd",
    )  # pending: org 1400, ana 600
    return org, ana


def test_earnings_of_the_organisation_and_of_the_claimed_contributor(shared, seller, version):
    org, ana = shared
    owner = api(seller.secret)
    body = owner.get("/api/earnings").json()
    assert body["contributor"] is None
    assert body["organization"]["payeeId"] == org.pk
    assert body["organization"]["currencies"] == [
        {
            "currency": "usd",
            "pendingMicros": 1400 * M,
            "availableMicros": 0,
            "inPayoutCents": 0,
            "paidCents": 700,
        }
    ]
    assert body["organization"]["datasets"] == [
        {
            "datasetId": version.dataset.public_id,
            "name": version.dataset.name,
            "currency": "usd",
            "earnedMicros": 2100 * M,
            "pendingMicros": 1400 * M,
        }
    ]

    ana_client, _ = claimed_client("ana@example.com")
    body = ana_client.get("/api/earnings").json()
    # Ana's key belongs to an organisation of her own, which has earned nothing.
    assert body["organization"] is None or body["organization"]["currencies"] == []
    assert body["contributor"]["payeeId"] == ana.pk
    assert body["contributor"]["currencies"] == [
        {
            "currency": "usd",
            "pendingMicros": 600 * M,
            "availableMicros": 0,
            "inPayoutCents": 0,
            "paidCents": 300,
        }
    ]
    assert body["contributor"]["datasets"][0]["earnedMicros"] == 900 * M

    # A refund after payout shows as a negative available balance.
    refund_post(refund_id="re_e1", order_ref="e1", amount_cents=1000)
    body = ana_client.get("/api/earnings").json()
    assert body["contributor"]["currencies"][0]["availableMicros"] == -300 * M
    assert body["contributor"]["datasets"][0]["earnedMicros"] == 600 * M


def test_payouts_lists_only_the_callers_lines(shared, seller):
    org, ana = shared
    owner = api(seller.secret)
    body = owner.get("/api/payouts").json()
    assert body["total"] == 1
    [line] = body["items"]
    assert (line["payeeKind"], line["amountCents"], line["status"]) == ("organization", 700, "paid")
    assert line["transferId"].startswith("tr_")

    ana_client, _ = claimed_client("ana@example.com")
    body = ana_client.get("/api/payouts").json()
    assert [(i["payeeKind"], i["amountCents"]) for i in body["items"]] == [("contributor", 300)]


def test_another_payee_sees_nothing_of_ours(shared, seller):
    outsider = api(make_key()[0])
    assert outsider.get("/api/earnings").json() == {"organization": None, "contributor": None}
    assert outsider.get("/api/payouts").json()["items"] == []

    # A plain member of the seller's organisation does not see the organisation's money.
    member = make_user()
    membership_add(organization=seller.organization, user=member)
    member_client = api(
        api_key_create(actor=actor_for_member(user=member, organization=seller.organization)).secret
    )
    assert member_client.get("/api/earnings").json()["organization"] is None
    assert member_client.get("/api/payouts").json()["total"] == 0

    # The contributor does not see the organisation's lines, nor the organisation ana's.
    ana_client, _ = claimed_client("ana@example.com")
    kinds = {i["payeeKind"] for i in ana_client.get("/api/payouts").json()["items"]}
    assert kinds == {"contributor"}


def test_unauthenticated_is_401():
    assert api().get("/api/earnings").status_code == 401
    assert api().get("/api/payouts").status_code == 401


def test_query_counts_do_not_grow_with_history(shared, seller, version, settings):
    owner = api(seller.secret)

    def count(path):
        with CaptureQueriesContext(connection) as queries:
            assert owner.get(path).status_code == 200
        return len(queries)

    before = {p: count(p) for p in ("/api/earnings", "/api/payouts")}
    # More datasets, sales and payout runs.
    _, second = publish_dataset(seller.secret, name="Second", isPaid=True, basePriceCents=500)
    for n in range(5):
        sale_post(
            order_ref=f"q{n}",
            dataset_version=second,
            gross_cents=500,
            platform_fee_cents=0,
            currency="usd",
        )
    sell_and_release(version, refs=["q-a", "q-b"])
    payout_run_execute(run=payout_run_create(currency="usd"))
    after = {p: count(p) for p in ("/api/earnings", "/api/payouts")}
    assert after == before
    assert before["/api/earnings"] <= 8
    assert before["/api/payouts"] <= 6


def test_cached_earnings_follow_every_new_posting(shared, seller, version):
    """The earnings' ledger reads are cached under the ledger's head: a second read without a
    posting is served from the cache, and any posting shows at once."""
    owner = api(seller.secret)

    def earned():
        body = owner.get("/api/earnings").json()["organization"]
        return sum(d["earnedMicros"] for d in body["datasets"])

    first = earned()
    with CaptureQueriesContext(connection) as cached:
        assert earned() == first
    with CaptureQueriesContext(connection) as cold:
        from django.core.cache import cache

        cache.clear()
        assert earned() == first
    assert len(cached) < len(cold)
    sale_post(
        order_ref="cache-1",
        dataset_version=version,
        gross_cents=1000,
        platform_fee_cents=0,
        currency="usd",
    )
    assert earned() > first
    refund_post(refund_id="re_cache-1", order_ref="cache-1", amount_cents=1000)
    assert earned() == first
