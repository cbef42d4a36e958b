"""Building, publishing and reading a period's statement tree: one leaf per (payee, currency)
over the payee's ledger accounts (pending + available), read from the journal; the root is signed
with the license-signing keys (licensing.signing, served at /.well-known/jwks.json) and anchors
the ledger's hash-chain head at build time."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import connection, transaction
from django.utils import timezone

from marketplace.services.errors import Conflict, Invalid, NotFound
from payouts.models import LedgerAccount, StatementLeaf, StatementRoot
from payouts.services.journal.chain import ledger_chain_lock, ledger_head
from payouts.services.proofs.merkle import (
    canonical_json,
    inclusion_proof,
    leaf_hash,
    tree_root,
)

# Signs a root's claims with the license-signing keys (served at /.well-known/jwks.json):
# licensing sits above payouts, so it registers its signer in LicensingConfig.ready() (the
# pattern of marketplace.webhooks.stripe_handler_register) and this module never imports it.
_signer: Callable[[dict], tuple[str, str]] | None = None


def statement_signer_register(signer: Callable[[dict], tuple[str, str]]) -> None:
    global _signer
    _signer = signer


def statement_signer() -> Callable[[dict], tuple[str, str]]:
    if _signer is None:
        raise RuntimeError("No statement-root signer registered (LicensingConfig.ready).")
    return _signer


PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
ROOT_TYPE = "dc-statement-root"


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """[start, end) of a "YYYY-MM" period, UTC."""
    match = PERIOD_RE.match(period or "") if isinstance(period, str) else None
    if not match:
        raise Invalid("A statement period is a month written YYYY-MM.", code="invalid_period")
    year, month = int(match[1]), int(match[2])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def previous_period(now: datetime) -> str:
    first = now.astimezone(UTC).date().replace(day=1)
    last = date.fromordinal(first.toordinal() - 1)
    return f"{last.year:04d}-{last.month:02d}"


@dataclass(frozen=True)
class StatementTree:
    period: str
    keys: list[tuple[int, str]]  # (payee id, currency), in leaf order
    lines: list[str]  # canonical JSON of each leaf
    hashes: list[bytes]

    @property
    def root(self) -> str:
        return tree_root(self.hashes).hex()


_PAYEE_KINDS = [str(k) for k in LedgerAccount.PAYEE_KINDS]


def statement_tree(*, period: str) -> StatementTree:
    """The period's leaves as the ledger has them now (a read; publishing is separate). Amounts
    are micro-units, credit-normal (positive = owed to the payee); a transaction moving money
    between the payee's own accounts (a hold release) nets to nothing."""
    start, end = period_bounds(period)
    params = {"kinds": _PAYEE_KINDS, "start": start, "end": end}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.payee_id, a.currency, (-sum(e.amount))::bigint
            FROM payouts_entry e
            JOIN payouts_ledgeraccount a ON a.id = e.account_id
            JOIN payouts_journaltransaction t ON t.id = e.transaction_id
            WHERE a.kind = ANY(%(kinds)s) AND t.created_at < %(end)s
            GROUP BY a.payee_id, a.currency
            """,
            params,
        )
        closing_all = {(p, c): total for p, c, total in cursor.fetchall()}
        cursor.execute(
            """
            SELECT a.payee_id, a.currency, e.transaction_id, e.id, e.amount
            FROM payouts_entry e
            JOIN payouts_ledgeraccount a ON a.id = e.account_id
            JOIN payouts_journaltransaction t ON t.id = e.transaction_id
            WHERE a.kind = ANY(%(kinds)s) AND t.created_at >= %(start)s AND t.created_at < %(end)s
            ORDER BY a.payee_id, a.currency, e.id
            """,
            params,
        )
        rows = cursor.fetchall()
    entries: dict[tuple[int, str], list[tuple[int, int, int]]] = {}
    for payee, currency, txn, entry, amount in rows:
        entries.setdefault((payee, currency), []).append((txn, entry, amount))
    keys = sorted(closing_all)
    lines = [statement_line(period, key, closing_all[key], entries.get(key, [])) for key in keys]
    return StatementTree(period, keys, lines, [leaf_hash(line) for line in lines])


def statement_line(
    period: str, key: tuple[int, str], closing: int, entries: list[tuple[int, int, int]]
) -> str:
    """One leaf: opening, credits, debits (per transaction, netted), closing, and the SHA-256 of
    the canonical JSON list of [entry id, amount] behind it (ascending entry id)."""
    per_txn: dict[int, int] = {}
    for txn, _entry, amount in entries:
        per_txn[txn] = per_txn.get(txn, 0) - amount
    credits = sum(v for v in per_txn.values() if v > 0)
    debits = -sum(v for v in per_txn.values() if v < 0)
    opening = closing - credits + debits
    behind = canonical_json({"entries": [[entry, amount] for _t, entry, amount in entries]})
    return canonical_json(
        {
            "period": period,
            "payee": key[0],
            "currency": key[1],
            "opening": opening,
            "credits": credits,
            "debits": debits,
            "closing": closing,
            "entries": hashlib.sha256(behind.encode("ascii")).hexdigest(),
        }
    )


def statement_root_publish(*, period: str, actor=None, now: datetime | None = None):
    """Build, sign and store the period's root once the period is over. Idempotent: a rebuild
    that finds the same root returns the stored one; a different root (history rewritten) is
    refused, never overwritten. `actor` is None for the scheduled build (system). `now` decides
    whether the period is over; the root is issued at the real time of signing."""
    _start, end = period_bounds(period)
    if end > (now or timezone.now()):
        raise Invalid(f"The period {period} is not over yet.", code="period_open")
    with transaction.atomic():
        # Postings wait behind us: the chain head below is exactly the ledger the leaves read.
        ledger_chain_lock()
        tree = statement_tree(period=period)
        existing = StatementRoot.objects.filter(period=period).first()
        if existing is not None:
            if existing.root != tree.root:
                raise Conflict(
                    f"The ledger of {period} no longer matches its published root.",
                    code="statement_root_mismatch",
                )
            return existing
        sequence, head = ledger_head()
        issued_at = timezone.now()
        claims = {
            "typ": ROOT_TYPE,
            "period": period,
            "root": tree.root,
            "leafCount": len(tree.lines),
            "chainSequence": sequence,
            "chainHead": head,
            "iat": int(issued_at.timestamp()),
        }
        # The license-signing keys: licensing (above us) registers its signer at start-up.
        token, kid = statement_signer()(claims)
        root = StatementRoot.objects.create(
            period=period,
            root=tree.root,
            leaf_count=len(tree.lines),
            chain_sequence=sequence,
            chain_hash=head,
            issued_at=issued_at,
            kid=kid,
            token=token,
        )
        StatementLeaf.objects.bulk_create(
            StatementLeaf(
                root=root,
                index=i,
                payee_id=payee,
                currency=currency,
                line=line,
                leaf_hash=digest.hex(),
            )
            for i, ((payee, currency), line, digest) in enumerate(
                zip(tree.keys, tree.lines, tree.hashes, strict=True)
            )
        )
    return root


@dataclass(frozen=True)
class ProvenStatement:
    leaf: StatementLeaf
    proof: list[dict]

    @property
    def line_data(self) -> dict:
        return json.loads(self.leaf.line)


def payee_statement_proofs(
    *, period: str, payee_ids: list[int]
) -> tuple[StatementRoot, list[ProvenStatement]]:
    """The period's published root and the statement lines of these payees for the period with their inclusion
    proofs; NotFound while the period has no published root."""
    period_bounds(period)
    root = StatementRoot.objects.filter(period=period).first()
    if root is None:
        raise NotFound(f"No statement root is published for {period} yet.", code="no_root")
    hashes = [
        bytes.fromhex(h) for h in root.leaves.order_by("index").values_list("leaf_hash", flat=True)
    ]
    mine = root.leaves.filter(payee_id__in=payee_ids).order_by("payee_id", "currency")
    return root, [ProvenStatement(leaf, inclusion_proof(hashes, leaf.index)) for leaf in mine]


def payee_proven_statements(
    *,
    payee_id: int,
    currency: str | None = None,
    first: str | None = None,
    last: str | None = None,
    limit: int | None = 12,
) -> list[tuple[StatementRoot, ProvenStatement]]:
    """The payee's published statement lines, newest period first (optionally one currency and
    periods `first`..`last`, YYYY-MM inclusive), each with its root and inclusion proof."""
    leaves = StatementLeaf.objects.filter(payee_id=payee_id).select_related("root")
    if currency:
        leaves = leaves.filter(currency=currency)
    if first:
        leaves = leaves.filter(root__period__gte=first)
    if last:
        leaves = leaves.filter(root__period__lte=last)
    picked = list(leaves.order_by("-root__period", "currency")[:limit])
    # Every leaf hash of the roots involved in one query (a constant number, whatever the count).
    hashes_of: dict[int, list[bytes]] = {}
    rows = StatementLeaf.objects.filter(root_id__in={leaf.root_id for leaf in picked})
    for root_id, digest in rows.order_by("root_id", "index").values_list("root_id", "leaf_hash"):
        hashes_of.setdefault(root_id, []).append(bytes.fromhex(digest))
    return [
        (leaf.root, ProvenStatement(leaf, inclusion_proof(hashes_of[leaf.root_id], leaf.index)))
        for leaf in picked
    ]
