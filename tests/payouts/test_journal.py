"""journal_post, the generic append that payout runs will use: its own rules, before the
database's."""

import pytest
from django.db import transaction

from contributors.services.payees import payee_for_organization
from payouts.models import Entry, JournalTransaction, LedgerAccount
from payouts.services import (
    EntryLines,
    currency_totals,
    journal_post,
    ledger_chain_lock,
    ledger_verify,
    payee_account,
    platform_account,
)
from payouts.services.journal import AccountRef

pytestmark = pytest.mark.django_db
Kind = LedgerAccount.Kind


@pytest.fixture
def refs(seller):
    payee = payee_for_organization(seller.organization)
    with transaction.atomic():
        return {
            "clearing": platform_account(kind=Kind.PAYMENT_CLEARING, currency="usd"),
            "revenue": platform_account(kind=Kind.PLATFORM_REVENUE, currency="usd"),
            "available": payee_account(
                payee_id=payee.pk, kind=Kind.PAYEE_AVAILABLE, currency="usd"
            ),
        }


def _lines(*pairs):
    lines = EntryLines()
    for ref, amount in pairs:
        lines.add(ref, amount)
    return lines


def test_post_and_replay(refs):
    lines = _lines((refs["clearing"], 700), (refs["revenue"], -700))
    journal, created = journal_post(idempotency_key="test:1", kind="adjustment", lines=lines)
    assert created and journal.sequence == 1
    again, created = journal_post(idempotency_key="test:1", kind="adjustment", lines=lines)
    assert (again.pk, created) == (journal.pk, False)
    with pytest.raises(ValueError, match="was used for a adjustment"):
        journal_post(idempotency_key="test:1", kind="other", lines=lines)
    assert Entry.objects.count() == 2 and currency_totals() == {"usd": 0}
    assert ledger_verify().ok


def test_zero_amounts_are_dropped(refs):
    lines = _lines((refs["clearing"], 5), (refs["available"], 0), (refs["revenue"], -5))
    journal, _ = journal_post(idempotency_key="test:zero", kind="adjustment", lines=lines)
    assert journal.entries.count() == 2


@pytest.mark.parametrize(
    "build",
    [
        lambda r: _lines((r["clearing"], 700), (r["revenue"], -699)),
        lambda r: _lines((r["clearing"], 700), (r["clearing"], -700)),
        # A reference that lies about its account (the hash would not verify).
        lambda r: _lines(
            (AccountRef(r["available"].id, Kind.PAYEE_PENDING, r["available"].payee_id, "usd"), 1),
            (r["revenue"], -1),
        ),
        lambda r: _lines(
            (AccountRef(r["clearing"].id, Kind.PAYMENT_CLEARING, None, "eur"), 1),
            (AccountRef(r["revenue"].id, Kind.PLATFORM_REVENUE, None, "eur"), -1),
        ),
    ],
    ids=["unbalanced", "same account twice", "wrong kind", "wrong currency"],
)
def test_bad_lines_are_refused_before_writing(refs, build):
    with pytest.raises(ValueError):
        journal_post(idempotency_key="test:bad", kind="adjustment", lines=build(refs))
    assert not JournalTransaction.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_chain_lock_needs_a_transaction():
    with pytest.raises(RuntimeError, match="atomic"):
        ledger_chain_lock()


def test_migration_takes_the_same_chain_lock_as_the_services():
    import importlib

    from payouts.services.journal import CHAIN_LOCK_KEY

    migration = importlib.import_module("payouts.migrations.0002_ledger_enforcement")
    assert migration.CHAIN_LOCK_KEY == CHAIN_LOCK_KEY
    assert f"pg_advisory_xact_lock({CHAIN_LOCK_KEY})" in migration.FORWARD
