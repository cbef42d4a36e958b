"""Read-only ledger admin: staff can browse accounts, transactions and their entries; nothing
can be added, changed or deleted here (the database refuses it too).

One module per area, each registering its ModelAdmins: `ledger` (accounts, transactions,
entries, ledger verification), `runs` (payout runs), `lines` (payout lines and the sales behind
each), `statements` (a payee's statement, the runs' CSV export), `reconciliation`; `finance` is the finance console (the overview, payout execution and
reconciliation as Celery jobs with their progress pages).
"""

from django.contrib import admin

from payouts.admin.ledger import EntryAdmin, JournalTransactionAdmin, LedgerAccountAdmin
from payouts.admin.lines import PayoutLineAdmin
from payouts.admin.reconciliation import ReconciliationReportAdmin
from payouts.admin.runs import PayoutRunAdmin

# The admin index links the finance overview for staff allowed to see it (the template extends
# the admin's own index; a site that sets its own index template keeps it).
if admin.site.index_template is None:
    admin.site.index_template = "admin/payouts/index.html"

__all__ = [
    "EntryAdmin",
    "JournalTransactionAdmin",
    "LedgerAccountAdmin",
    "PayoutLineAdmin",
    "PayoutRunAdmin",
    "ReconciliationReportAdmin",
]
