"""Provable contributor statements (issue 13 §4): a Merkle tree per month over every payee's
statement line, the signed root at GET /api/statements/roots, each payee's inclusion proof at
GET /api/earnings/statements/<period>. Random ledgers built by the posting services (sales,
refunds, hold releases, payout runs through the Stripe emulator); the verification at the end
uses nothing but hashlib, a JOSE library and the public JWKS (the README procedure)."""

import csv
import hashlib
import io
import json
import warnings
from datetime import timedelta

import jwt
import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import KeySet

from marketplace.services.errors import Conflict, Invalid
from payouts.exports import STATEMENT_PROOF_CSV_HEADERS
from payouts.models import Entry, JournalTransaction, LedgerAccount, StatementLeaf, StatementRoot
from payouts.services import (
    holds_release,
    ledger_verify,
    processor_fee_post,
    refund_post,
    refund_window,
    sale_post,
)
from payouts.services.journal.chain import ledger_head
from payouts.services.proofs import (
    inclusion_proof,
    period_bounds,
    previous_period,
    proof_root,
    statement_root_publish,
    statement_tree,
)
from payouts.services.proofs.build import statement_line
from payouts.services.runs import payout_run_create, payout_run_execute
from payouts.tasks import payout_runs_create, statement_root_publish_previous
from tests.catalogue_helpers import api
from tests.factories import make_user
from tests.payouts.conftest import payee_of, set_shares
from tests.payouts.test_payee_api import claimed_client
from tests.payouts.test_payout_runs import enable_payouts
from tests.web.test_money_pages import browser, claim

pytestmark = pytest.mark.django_db
WHO = ("org", "a@example.com", "b@example.com")


def this_period() -> str:
    return timezone.now().strftime("%Y-%m")


def after(period: str):
    """A moment when `period` is over (the builder refuses an open month)."""
    return period_bounds(period)[1] + timedelta(seconds=1)


# --- what an outside verifier does (README, "Verify your statement"): hashlib + JOSE only ------


def verify_statement(statement: dict, root: dict, keyset: dict) -> dict:
    """The signed claims if the statement's line is in the signed root; AssertionError else."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verified = jws.deserialize_compact(
            root["token"], KeySet.import_key_set(keyset), algorithms=["EdDSA"]
        )
    claims = json.loads(verified.payload)
    digest = hashlib.sha256(b"\x00" + statement["line"].encode()).digest()
    for step in statement["proof"]:
        sibling = bytes.fromhex(step["hash"])
        pair = sibling + digest if step["side"] == "left" else digest + sibling
        digest = hashlib.sha256(b"\x01" + pair).digest()
    assert digest.hex() == claims["root"], "the statement is not in the signed root"
    assert json.loads(statement["line"])["period"] == claims["period"]
    return claims


# --- random ledgers ---------------------------------------------------------------------------

operation = st.one_of(
    st.tuples(st.just("sale"), st.integers(1, 50_000), st.sampled_from(["usd", "eur"])),
    st.tuples(st.just("refund"), st.integers(0, 20), st.integers(1, 50_000)),
    st.tuples(st.just("release"), st.just(0), st.just(0)),
    st.tuples(st.just("payout"), st.just(0), st.sampled_from(["usd", "eur"])),
)


def apply(version, ops, prefix: str = "") -> None:
    sales = []
    for i, (kind, a, b) in enumerate(ops):
        if kind == "sale":
            sales.append(
                sale_post(
                    order_ref=f"o{prefix}{i}",
                    dataset_version=version,
                    gross_cents=a,
                    platform_fee_cents=a // 10,
                    currency=b,
                )
            )
        elif kind == "refund" and sales:
            sale = sales[a % len(sales)]
            try:
                refund_post(refund_id=f"re{prefix}{i}", sale=sale, amount_cents=b)
            except Invalid:
                pass  # more than is left of the sale: refused, nothing posted
        elif kind == "release":
            holds_release(now=timezone.now() + refund_window() + timedelta(seconds=1))
        elif kind == "payout":
            payout_run_execute(run=payout_run_create(currency=b))


@pytest.fixture
def payees(version, seller, settings):
    settings.PAYOUT_THRESHOLD_CENTS = {"usd": 100, "eur": 100}
    table = set_shares(
        version, seller.owner, [(w, n) for w, n in zip(WHO, (5, 3, 1), strict=True)], basis="weight"
    )
    found = [payee_of(table, w) for w in WHO]
    for payee in found:
        enable_payouts(payee)
    return found


def mutations(line: str):
    """Every field of the line changed a little, one at a time."""
    data = json.loads(line)
    for field, value in data.items():
        changed = dict(data)
        if isinstance(value, int):
            changed[field] = value + 1
        else:
            changed[field] = value[:-1] + ("0" if value[-1] != "0" else "1")
        yield json.dumps(changed, sort_keys=True, separators=(",", ":"))


@given(ops=st.lists(operation, min_size=1, max_size=12), extra=st.integers(1, 5_000))
@hypothesis_settings(
    max_examples=15,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_proof_verifies_and_any_change_breaks_it(payees, version, ops, extra):
    savepoint = transaction.savepoint()  # each example starts from an empty ledger
    try:
        apply(version, ops)
        period = this_period()
        tree = statement_tree(period=period)
        assert tree.keys == sorted(tree.keys)
        for index, line in enumerate(tree.lines):
            proof = inclusion_proof(tree.hashes, index)
            # Every payee's proof verifies against the root...
            assert proof_root(line, proof) == tree.root
            # ...and no changed line does (an amount, the payee, the currency, the entries).
            for forged in mutations(line):
                assert proof_root(forged, proof) != tree.root
            # A changed sibling hash breaks it too.
            for i, step in enumerate(proof):
                bent = [dict(s) for s in proof]
                bent[i]["hash"] = hashlib.sha256(step["hash"].encode()).hexdigest()
                assert proof_root(line, bent) != tree.root
            # Closing = opening + credits - debits; the line is canonical JSON.
            data = json.loads(line)
            assert data["closing"] == data["opening"] + data["credits"] - data["debits"]
            assert line == json.dumps(data, sort_keys=True, separators=(",", ":"))

        # An entry behind a line changed (another amount, another id) changes the line.
        rows = list(StatementLeafSource.entries(period, tree.keys[0]) if tree.keys else [])
        if rows:
            key = tree.keys[0]
            closing = json.loads(tree.lines[0])["closing"]
            assert statement_line(period, key, closing, rows) == tree.lines[0]
            txn, entry, amount = rows[0]
            for changed in ([(txn, entry, amount + 1)], [(txn, entry + 10**9, amount)]):
                assert statement_line(period, key, closing, changed + rows[1:]) != tree.lines[0]

        # The root changes iff the period's data changes: the same ledger again, a replayed
        # sale (idempotent) and a processor fee (platform accounts only) keep it...
        assert statement_tree(period=period).root == tree.root
        if ops[0][0] == "sale":
            kind, gross, currency = ops[0]
            sale_post(
                order_ref="o0",
                dataset_version=version,
                gross_cents=gross,
                platform_fee_cents=gross // 10,
                currency=currency,
            )
            processor_fee_post(
                balance_transaction_id="txn_x", fee_cents=7, currency=currency, order_ref="o0"
            )
            assert statement_tree(period=period).root == tree.root
        # ...one more sale changes it.
        sale_post(
            order_ref="o-extra",
            dataset_version=version,
            gross_cents=extra,
            platform_fee_cents=0,
            currency="usd",
        )
        assert statement_tree(period=period).root != tree.root
        assert ledger_verify().ok
    finally:
        transaction.savepoint_rollback(savepoint)


class StatementLeafSource:
    """The (transaction id, entry id, amount) rows behind a leaf, read through the ORM (an
    independent path from the builder's SQL)."""

    @staticmethod
    def entries(period, key):
        start, end = period_bounds(period)
        return [
            (e.transaction_id, e.pk, e.amount)
            for e in Entry.objects.filter(
                account__payee_id=key[0],
                account__currency=key[1],
                account__kind__in=LedgerAccount.PAYEE_KINDS,
                transaction__created_at__gte=start,
                transaction__created_at__lt=end,
            ).order_by("pk")
        ]


# --- publishing and the API -------------------------------------------------------------------


def test_published_root_and_proofs_verify_with_only_hashlib_and_jose(payees, version, seller):
    org, ana, _bob = payees
    apply(
        version,
        [
            ("sale", 10_000, "usd"),
            ("release", 0, 0),
            ("payout", 0, "usd"),
            ("sale", 3_000, "usd"),
            ("refund", 1, 500),
            ("sale", 2_000, "eur"),
        ],
    )
    period = this_period()
    root = statement_root_publish(period=period, now=after(period))
    assert root.leaf_count == 6  # three payees, two currencies
    sequence, head = ledger_head()
    assert (root.chain_sequence, root.chain_hash) == (sequence, head)

    listing = Client().get("/api/statements/roots")  # public: no key
    assert listing.status_code == 200
    [published] = listing.json()["items"]
    assert published["period"] == period and published["root"] == root.root
    keyset = Client().get("/.well-known/jwks.json").json()

    # The organisation's owner and a claimed contributor each get their own lines only.
    ana_client, _ = claimed_client("a@example.com")
    for client, payee in ((api(seller.secret), org), (ana_client, ana)):
        response = client.get(f"/api/earnings/statements/{period}")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["root"] == published
        assert {s["payeeId"] for s in body["statements"]} == {payee.pk}
        assert {s["currency"] for s in body["statements"]} == {"usd", "eur"}
        for statement in body["statements"]:
            claims = verify_statement(statement, body["root"], keyset)
            assert claims["chainHead"] == head and claims["chainSequence"] == sequence
            assert claims["leafCount"] == 6 and claims["period"] == period
            # PyJWT, an unrelated implementation, agrees on the signature.
            jwk = next(k for k in keyset["keys"] if k["kid"] == root.kid)
            key = jwt.PyJWK.from_dict(jwk).key
            assert jwt.decode(body["root"]["token"], key=key, algorithms=["EdDSA"]) == claims
            # Another payee's amounts in this payee's line do not verify.
            forged = dict(statement, line=statement["line"].replace('"credits":', '"credits":1'))
            with pytest.raises(AssertionError):
                verify_statement(forged, body["root"], keyset)


def test_roots_are_immutable_and_a_rewrite_is_refused(payees, version):
    apply(version, [("sale", 10_000, "usd")])
    period = this_period()
    first = statement_root_publish(period=period, now=after(period))
    # The same ledger again: the same stored root, nothing new.
    assert statement_root_publish(period=period, now=after(period)).pk == first.pk
    # History of the period changed afterwards (here: a posting dated inside it): refused,
    # the published root and its leaves stay.
    leaves = list(StatementLeaf.objects.filter(root=first).values_list("leaf_hash", flat=True))
    apply(version, [("sale", 20_000, "usd")], prefix="late")
    with pytest.raises(Conflict):
        statement_root_publish(period=period, now=after(period))
    assert StatementRoot.objects.get(period=period).root == first.root
    assert list(first.leaves.values_list("leaf_hash", flat=True)) == leaves
    # Not even a direct write changes a published root or leaf (PostgreSQL refuses).
    for sql in (
        "UPDATE payouts_statementroot SET root = 'x' WHERE id = %s",
        "UPDATE payouts_statementleaf SET line = 'x' WHERE root_id = %s",
        "DELETE FROM payouts_statementleaf WHERE root_id = %s",
        "DELETE FROM payouts_statementroot WHERE id = %s",
    ):
        refused = pytest.raises(DatabaseError, match="append-only")
        with refused, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [first.pk])
    assert StatementRoot.objects.get(pk=first.pk).root == first.root


def test_open_period_bad_period_and_unpublished_period(payees, version, seller):
    apply(version, [("sale", 1_000, "usd")])
    period = this_period()
    count = StatementRoot.objects.count()
    with pytest.raises(Invalid):
        statement_root_publish(period=period)  # the month is not over
    with pytest.raises(Invalid):
        statement_root_publish(period="2026-13", now=after(period))
    assert StatementRoot.objects.count() == count

    owner = api(seller.secret)
    bad = owner.get("/api/earnings/statements/2026-13")
    assert bad.status_code == 422 and set(bad.json()) >= {"message", "error"}
    missing = owner.get(f"/api/earnings/statements/{period}")
    assert missing.status_code == 404 and set(missing.json()) >= {"message", "error"}
    assert api().get(f"/api/earnings/statements/{period}").status_code == 401


def test_the_monthly_task_publishes_the_previous_month_once(payees, version):
    # An empty month is published too (zero leaves is a statement: nothing owed to anyone).
    before = JournalTransaction.objects.count()
    result = statement_root_publish_previous(period="2020-01")
    assert result["period"] == "2020-01" and result["leaves"] == 0
    assert statement_root_publish_previous(period="2020-01") == result
    assert JournalTransaction.objects.count() == before


# --- the web pages and the statement CSV ------------------------------------------------------


def test_money_pages_and_statement_csv_carry_the_proof(payees, version, seller):
    org, ana, _bob = payees
    apply(version, [("sale", 10_000, "usd"), ("release", 0, 0), ("sale", 4_000, "usd")])
    period = this_period()
    client = browser(seller.owner)
    before = client.get("/organization/money").content.decode()
    assert "No statement root covers your earnings yet" in before

    root = statement_root_publish(period=period, now=after(period))
    leaf = StatementLeaf.objects.get(root=root, payee=org, currency="usd")
    html = client.get("/organization/money").content.decode()
    assert root.root in html and leaf.leaf_hash in html
    assert escape(leaf.line) in html  # the exact bytes to hash
    other = StatementLeaf.objects.get(root=root, payee=ana, currency="usd")
    # Another payee's line never shows (its leaf hash may: a sibling in the proof).
    assert escape(other.line) not in html

    response = client.get(
        f"/organization/money/statement.csv?currency=usd&from={period}&to={period}"
    )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    tail = rows.index(STATEMENT_PROOF_CSV_HEADERS)
    assert rows[tail - 1] == [] and rows[1 : tail - 1]  # the statement rows, a blank row
    [proof_row] = rows[tail + 1 :]
    got = dict(zip(STATEMENT_PROOF_CSV_HEADERS, proof_row, strict=True))
    assert (got["statement_period"], got["root"]) == (period, root.root)
    assert (got["leaf_hash"], got["line"]) == (leaf.leaf_hash, leaf.line)
    # The CSV alone and the public root verify, with hashlib and a JOSE library only.
    keyset = Client().get("/.well-known/jwks.json").json()
    [published] = Client().get("/api/statements/roots").json()["items"]
    statement = {"line": got["line"], "proof": json.loads(got["proof"])}
    assert verify_statement(statement, published, keyset)["root"] == root.root

    # The claimed contributor's page shows their own line.
    ana_browser = claim("a@example.com", make_user())
    mine = ana_browser.get("/me/contributions").content.decode()
    assert escape(other.line) in mine and escape(leaf.line) not in mine


def test_each_payout_run_publishes_the_previous_month(
    payees, version, django_capture_on_commit_callbacks
):
    apply(version, [("sale", 10_000, "usd"), ("release", 0, 0)])
    previous = previous_period(timezone.now())
    assert not StatementRoot.objects.filter(period=previous).exists()
    with django_capture_on_commit_callbacks(execute=True):
        payout_runs_create()
    root = StatementRoot.objects.get(period=previous)
    assert root.leaf_count == 0  # everything here was posted this month
    # The next run finds it published and unchanged.
    with django_capture_on_commit_callbacks(execute=True):
        payout_runs_create()
    assert StatementRoot.objects.get(period=previous).pk == root.pk
