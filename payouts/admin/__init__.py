"""Read-only ledger admin: staff can browse accounts, transactions and their entries; nothing
can be added, changed or deleted here (the database refuses it too).

One module per area, each registering its ModelAdmins: `ledger` (accounts, transactions,
entries, ledger verification), `runs` (payout runs), `lines` (payout lines and the sales behind
each), `statements` (a payee's statement, the runs' CSV export), `reconciliation`.
"""

from payouts.admin.ledger import EntryAdmin, JournalTransactionAdmin, LedgerAccountAdmin
from payouts.admin.lines import PayoutLineAdmin
from payouts.admin.reconciliation import ReconciliationReportAdmin
from payouts.admin.runs import PayoutRunAdmin

__all__ = [
    "EntryAdmin",
    "JournalTransactionAdmin",
    "LedgerAccountAdmin",
    "PayoutLineAdmin",
    "PayoutRunAdmin",
    "ReconciliationReportAdmin",
]
