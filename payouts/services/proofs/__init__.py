"""Provable contributor statements (issue 13 §4): a Merkle tree per month over every payee's
statement line, its root signed (JWS, /.well-known/jwks.json) and anchored to the ledger's
hash-chain head, and each payee's inclusion proof.

    statement_tree(*, period) -> StatementTree           (a read of the ledger as it is now)
    statement_root_publish(*, period, actor=None, now=None) -> StatementRoot
    payee_statement_proofs(*, period, payee_ids) -> (StatementRoot, [ProvenStatement])
    payee_proven_statements(*, payee_id, currency=None, first=None, last=None, limit=12)
        -> [(StatementRoot, ProvenStatement)]           (the web page and the CSV)
    proof_root(line, proof) -> root hex                   (what a verifier computes)
"""

from payouts.services.proofs.build import (
    ProvenStatement,
    StatementTree,
    payee_proven_statements,
    payee_statement_proofs,
    period_bounds,
    previous_period,
    statement_root_publish,
    statement_tree,
)
from payouts.services.proofs.merkle import inclusion_proof, leaf_hash, proof_root, tree_root

__all__ = [
    "ProvenStatement",
    "StatementTree",
    "inclusion_proof",
    "leaf_hash",
    "payee_proven_statements",
    "payee_statement_proofs",
    "period_bounds",
    "previous_period",
    "proof_root",
    "statement_root_publish",
    "statement_tree",
    "tree_root",
]
