"""Provable contributor statements: per period, one leaf per (payee, currency) statement line and
the signed Merkle root over them (payouts.services.statements). Immutable once published."""

from django.db import models


class StatementRoot(models.Model):
    """The published root of a period's statement tree: `token` is a compact JWS (EdDSA, keys of
    /.well-known/jwks.json) over period, root, leaf count, the ledger chain head and issue time."""

    period = models.CharField(max_length=7, unique=True)  # "YYYY-MM"
    root = models.CharField(max_length=64)
    leaf_count = models.PositiveIntegerField()
    chain_sequence = models.PositiveBigIntegerField()
    chain_hash = models.CharField(max_length=64)
    issued_at = models.DateTimeField()
    kid = models.CharField(max_length=128)
    token = models.TextField()

    class Meta:
        ordering = ["-period"]

    def __str__(self) -> str:
        return f"statements {self.period} {self.root[:12]}"


class StatementLeaf(models.Model):
    """One payee's statement line of a period: `line` is the canonical JSON the leaf hashes."""

    root = models.ForeignKey(StatementRoot, on_delete=models.PROTECT, related_name="leaves")
    index = models.PositiveIntegerField()
    payee = models.ForeignKey(
        "contributors.Payee", on_delete=models.PROTECT, related_name="statement_leaves"
    )
    currency = models.CharField(max_length=3)
    line = models.TextField()
    leaf_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["root", "index"]
        constraints = [
            models.UniqueConstraint(fields=["root", "index"], name="uniq_statement_leaf_index"),
            models.UniqueConstraint(
                fields=["root", "payee", "currency"], name="uniq_statement_leaf_payee"
            ),
        ]
        indexes = [models.Index(fields=["payee", "root"], name="statement_leaf_payee")]

    def __str__(self) -> str:
        return f"leaf {self.index} of {self.root_id}"
