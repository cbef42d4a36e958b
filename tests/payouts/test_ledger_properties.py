"""Model-based (hypothesis stateful, derandomized) test of the ledger services: random sales in
two currencies, partial and full refunds before and after hold release (and refunds larger than
what is left, which must be refused), hold releases as time passes, processor fees, replayed
sale postings (a webhook delivered twice), payout runs paid through the Stripe emulator, and
payout executions that crash between the Stripe call and our commit. After every step the books
are checked against a plain model of what happened; every payout line transfers at most once and
never more than the payee had available."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from marketplace.services.errors import Invalid
from payouts.models import MICRO_PER_CENT, JournalTransaction, LedgerAccount, PayoutLine
from payouts.services import (
    currency_totals,
    holds_release,
    ledger_verify,
    payee_balances,
    platform_balances,
    processor_fee_post,
    refund_post,
    refund_window,
    sale_post,
    sale_remainder,
)
from payouts.services.runs import (
    _line_claim,
    _transfer_send,
    payout_run_create,
    payout_run_execute,
)
from tests.payouts.conftest import payee_of, set_shares
from tests.payouts.test_payout_runs import emulator, enable_payouts, transfers_of

M = MICRO_PER_CENT
Kind = LedgerAccount.Kind
CURRENCIES = ("usd", "eur")


@dataclass
class SaleModel:
    journal: JournalTransaction
    currency: str
    gross: int
    fee: int
    refunded: int = 0
    refunds: int = 0
    released: bool = False


class LedgerMachine(RuleBasedStateMachine):
    version = None
    payee_ids: list[int] = []

    def __init__(self):
        super().__init__()
        self.savepoint = transaction.savepoint()  # each example starts from an empty ledger
        self.sales: dict[str, SaleModel] = {}
        self.fees = dict.fromkeys(CURRENCIES, 0)
        self.clock = timedelta(0)
        self.counter = 0
        self.runs = []

    def teardown(self):
        try:
            result = ledger_verify()
            assert result.ok, result.problem
        finally:
            transaction.savepoint_rollback(self.savepoint)

    def _next(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    @rule(
        gross=st.integers(min_value=1, max_value=10**6),
        fee_percent=st.integers(min_value=0, max_value=100),
        currency=st.sampled_from(CURRENCIES),
    )
    def sale(self, gross, fee_percent, currency):
        ref = self._next("o")
        fee = gross * fee_percent // 100
        journal = sale_post(
            order_ref=ref,
            dataset_version=self.version,
            gross_cents=gross,
            platform_fee_cents=fee,
            currency=currency,
        )
        self.sales[ref] = SaleModel(journal, currency, gross, fee)

    @precondition(lambda self: self.sales)
    @rule(data=st.data())
    def refund(self, data):
        ref = data.draw(st.sampled_from(sorted(self.sales)))
        sale = self.sales[ref]
        left = sale.gross - sale.refunded
        amount = data.draw(
            st.one_of(st.just(left), st.integers(min_value=1, max_value=left + 3))
            if left
            else st.integers(min_value=1, max_value=3)
        )
        refund_id = self._next("re_")
        if amount > left or amount == 0:
            count = JournalTransaction.objects.count()
            with pytest.raises(Invalid):
                refund_post(refund_id=refund_id, order_ref=ref, amount_cents=amount)
            assert JournalTransaction.objects.count() == count
            return
        refund_post(refund_id=refund_id, order_ref=ref, amount_cents=amount)
        # A replay of the same refund changes nothing.
        refund_post(refund_id=refund_id, order_ref=ref, amount_cents=amount)
        sale.refunded += amount
        sale.refunds += 1

    @rule(days=st.integers(min_value=1, max_value=20))
    def time_passes(self, days):
        self.clock += timedelta(days=days)

    @rule()
    def release_holds(self):
        now = timezone.now() + self.clock
        holds_release(now=now)
        for sale in self.sales.values():
            if sale.journal.created_at <= now - refund_window():
                sale.released = True

    @precondition(lambda self: self.sales)
    @rule(data=st.data(), fee=st.integers(min_value=1, max_value=300))
    def processor_fee(self, data, fee):
        ref = data.draw(st.sampled_from(sorted(self.sales)))
        currency = self.sales[ref].currency
        processor_fee_post(
            balance_transaction_id=self._next("txn_"),
            fee_cents=fee,
            currency=currency,
            order_ref=ref,
        )
        self.fees[currency] += fee

    @precondition(lambda self: self.sales)
    @rule(data=st.data())
    def sale_replayed(self, data):
        """A payment webhook delivered again posts nothing new."""
        ref = data.draw(st.sampled_from(sorted(self.sales)))
        sale = self.sales[ref]
        count = JournalTransaction.objects.count()
        again = sale_post(
            order_ref=ref,
            dataset_version=self.version,
            gross_cents=sale.gross,
            platform_fee_cents=sale.fee,
            currency=sale.currency,
        )
        assert again.pk == sale.journal.pk
        assert JournalTransaction.objects.count() == count

    def _run_create(self, currency):
        before = {p: payee_balances(payee_id=p).get(currency) for p in self.payee_ids}
        run = payout_run_create(currency=currency)
        for line in run.lines.all():
            owed = before[line.payee_id].available
            # Whole cents, never more than was available, the sub-cent remainder carried.
            assert line.amount_cents * M <= owed < (line.amount_cents + 1) * M
        self.runs.append(run)
        return run

    @rule(currency=st.sampled_from(CURRENCIES))
    def payout_run(self, currency):
        run = self._run_create(currency)
        payout_run_execute(run=run)
        self._check_transfers(run)

    @rule(currency=st.sampled_from(CURRENCIES))
    def payout_run_crashes_after_the_stripe_call(self, currency):
        """An execution makes a line's transfer and dies before recording it; the next
        execution (the lease is 0 here) records that same transfer."""
        run = self._run_create(currency)
        line = _line_claim(run, now=timezone.now())
        if line is None:
            return
        made = _transfer_send(line, run, emulator())
        line.refresh_from_db()
        assert line.status == "sending" and not line.transfer_id
        payout_run_execute(run=run)
        line.refresh_from_db()
        assert line.transfer_id == made.id
        self._check_transfers(run)

    def _check_transfers(self, run):
        transfers = transfers_of(run)
        per_line = {}
        for transfer in transfers:
            per_line.setdefault(transfer.metadata["payout_line"], []).append(transfer)
        lines = {str(line.pk): line for line in run.lines.all()}
        assert set(per_line) <= set(lines)
        for pk, made in per_line.items():
            assert len(made) == 1  # each payout line transfers at most once
            assert made[0].amount == lines[pk].amount_cents
            assert made[0].id == lines[pk].transfer_id
        assert all(line.status == "paid" for line in lines.values())

    @invariant()
    def every_currency_sums_to_zero(self):
        assert all(total == 0 for total in currency_totals().values())

    @invariant()
    def books_match_the_model(self):
        pending = dict.fromkeys(CURRENCIES, 0)
        available = dict.fromkeys(CURRENCIES, 0)
        revenue = dict.fromkeys(CURRENCIES, 0)
        for sale in self.sales.values():
            left = sale_remainder(sale.journal)
            assert left.gross == (sale.gross - sale.refunded) * M
            assert left.released == sale.released
            # Proportional: the fee still held is within one micro-unit per refund of the
            # exact share of what is left, and no payee ever gives back more than it got.
            exact_fee = sale.fee * M * left.gross / (sale.gross * M)
            assert abs(left.platform_fee - exact_fee) <= sale.refunds + 1
            assert all(amount >= 0 for amount in left.payees.values())
            base_left = left.gross - left.platform_fee
            (available if sale.released else pending)[sale.currency] += base_left
            revenue[sale.currency] += left.platform_fee
        for currency in CURRENCIES:
            books = platform_balances(currency=currency)
            clearing = (
                sum(
                    (s.gross - s.refunded) * M
                    for s in self.sales.values()
                    if s.currency == currency
                )
                - self.fees[currency] * M
            )
            lines = PayoutLine.objects.filter(currency=currency)
            reserved = sum(lines.exclude(status="failed").values_list("amount_cents", flat=True))
            transferred = sum(lines.exclude(transfer_id="").values_list("amount_cents", flat=True))
            assert books.get(Kind.PAYMENT_CLEARING, 0) == clearing - transferred * M
            assert books.get(Kind.PLATFORM_REVENUE, 0) == revenue[currency]
            assert books.get(Kind.PROCESSOR_FEES, 0) == self.fees[currency] * M
            assert books.get(Kind.PAYOUT_IN_TRANSIT, 0) == (reserved - transferred) * M
            owed = [payee_balances(payee_id=p).get(currency) for p in self.payee_ids]
            assert sum(b.pending for b in owed if b) == pending[currency]
            assert sum(b.available for b in owed if b) == available[currency] - reserved * M


@pytest.mark.django_db
def test_ledger_books_stay_right_under_random_operations(version, seller, settings):
    settings.PAYOUT_THRESHOLD_CENTS = {"usd": 100, "eur": 100}
    settings.PAYOUT_SENDING_LEASE_SECONDS = 0  # a line left `sending` is taken over at once
    table = set_shares(
        version,
        seller.owner,
        [("org", 5), ("a@example.com", 3), ("b@example.com", 1)],
        basis="weight",
    )
    LedgerMachine.version = version
    payees = [payee_of(table, w) for w in ("org", "a@example.com", "b@example.com")]
    for payee in payees:
        enable_payouts(payee)
    LedgerMachine.payee_ids = [p.pk for p in payees]
    transfers_before = _emulator_transfer_count()
    run_state_machine_as_test(
        LedgerMachine,
        settings=hypothesis_settings(
            max_examples=30,
            stateful_step_count=25,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    # The payout rules really paid (each example's database state is rolled back, the
    # emulator's transfers stay).
    assert _emulator_transfer_count() > transfers_before


def _emulator_transfer_count() -> int:
    listing = emulator().transfers.list(params={"limit": 100})
    return sum(1 for _ in listing.auto_paging_iter())
