"""Writes of the contributors app. The ledger (payouts) calls `payee_for_organization`,
`payee_for_contributor` and `share_table_current`."""

from contributors.services.invitations import contributor_claim, contributor_invite_send
from contributors.services.payees import payee_for_contributor, payee_for_organization
from contributors.services.payout_accounts import (
    payout_account_ensure,
    payout_account_onboarding_url,
    payout_account_refresh,
)
from contributors.services.shares import (
    share_table_create_default,
    share_table_current,
    share_table_set,
)

__all__ = [
    "contributor_claim",
    "contributor_invite_send",
    "payee_for_contributor",
    "payee_for_organization",
    "payout_account_ensure",
    "payout_account_onboarding_url",
    "payout_account_refresh",
    "share_table_create_default",
    "share_table_current",
    "share_table_set",
]
