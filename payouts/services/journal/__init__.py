"""Posting journal transactions: the chain lock, the hash chain, ledger accounts and the
set-based insert of entries. The money-specific services (sales, refunds, holds, fees) and,
later, payout runs build their entries and call `journal_post`.

Lock order of every posting (to avoid deadlocks):
  1. rows the caller locked (an order, a payout line ...), in the caller's own order;
  2. ledger accounts created on first use (INSERT ... ON CONFLICT, ordered by payee id, so two
     postings creating overlapping accounts wait on each other instead of deadlocking);
  3. the chain lock, last, held until the outermost transaction commits. Nothing that can wait
     on another posting may run after it: no account creation, no network call.

The package: `entries` (what a posting is made of), `accounts` (ledger accounts, created on first
use), `chain` (the hash chain and the chain lock), `binary_copy` (the set-based insert of
entries), `posting` (`journal_post`, which puts them together) and `streamed`
(`journal_post_payee_query`: the same posting for entries that are rows of a query, never held
in memory; payout runs).
"""

from payouts.services.journal.accounts import payee_account, payee_accounts_ensure, platform_account
from payouts.services.journal.binary_copy import COPY_CHUNK
from payouts.services.journal.chain import (
    CHAIN_LOCK_KEY,
    HASH_VERSION,
    chain_hash,
    hash_entries,
    hash_header,
    hash_timestamp,
    ledger_chain_lock,
    ledger_head,
)
from payouts.services.journal.entries import AccountRef, EntryLines
from payouts.services.journal.posting import journal_post, journal_transaction_existing

__all__ = [
    "CHAIN_LOCK_KEY",
    "COPY_CHUNK",
    "HASH_VERSION",
    "AccountRef",
    "EntryLines",
    "chain_hash",
    "hash_entries",
    "hash_header",
    "hash_timestamp",
    "journal_post",
    "journal_transaction_existing",
    "ledger_chain_lock",
    "ledger_head",
    "payee_account",
    "payee_accounts_ensure",
    "platform_account",
]
