"""The statement Merkle tree, RFC 6962 style: leaf = SHA-256(0x00 || canonical JSON line), inner
node = SHA-256(0x01 || left || right), a tree of n > 1 leaves split at the largest power of two
below n (no duplicated last node, so no two leaf lists share a root). Pure functions: a verifier
needs only hashlib (README, "Verify your statement")."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def canonical_json(data: dict) -> str:
    """Sorted keys, no whitespace, ASCII: the exact bytes a leaf hashes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def leaf_hash(line: str) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + line.encode("ascii")).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """The root over leaf hashes; SHA-256 of nothing for an empty period (RFC 6962)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(tree_root(leaves[:k]), tree_root(leaves[k:]))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[dict]:
    """The audit path of leaf `index`, innermost step first: each step is the sibling hash and
    the side it sits on ("left": hash = node(sibling, hash); "right": node(hash, sibling))."""
    if not 0 <= index < len(leaves):
        raise IndexError(index)
    steps: list[dict] = []
    lo, hi = 0, len(leaves)
    path: list[tuple[int, int, int]] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        path.append((lo, lo + k, hi))
        lo, hi = (lo, lo + k) if index < lo + k else (lo + k, hi)
    for lo, mid, hi in reversed(path):
        if index < mid:
            steps.append({"side": "right", "hash": tree_root(leaves[mid:hi]).hex()})
        else:
            steps.append({"side": "left", "hash": tree_root(leaves[lo:mid]).hex()})
    return steps


def proof_root(line: str, proof: Sequence[dict]) -> str:
    """The root hex that `line` and its proof lead to (compare with the signed root)."""
    digest = leaf_hash(line)
    for step in proof:
        sibling = bytes.fromhex(step["hash"])
        digest = (
            node_hash(sibling, digest) if step["side"] == "left" else node_hash(digest, sibling)
        )
    return digest.hex()
