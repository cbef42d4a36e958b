"""Ledger test state, built the production way: a dataset published through the API and the
review service, share tables through the contributors service, postings through ours."""

from dataclasses import dataclass

import pytest
from django.db import connection
from hypothesis import strategies as st

from contributors.models import Payee, ShareTable
from contributors.services.shares import share_table_set
from marketplace.actors import actor_for_member
from marketplace.models import DatasetVersion, Organization, User
from tests.catalogue_helpers import publish_dataset

# The split's rotation key: any unsigned 64-bit value (rotation_key_for's range).
rotation_keys = st.integers(min_value=0, max_value=2**64 - 1)


@dataclass
class Seller:
    """The root `provider` under the names the ledger tests use."""

    secret: str
    organization: Organization
    owner: User


@pytest.fixture
def seller(provider) -> Seller:
    return Seller(secret=provider.secret, organization=provider.org, owner=provider.user)


@pytest.fixture
def version(seller) -> DatasetVersion:
    _, published = publish_dataset(
        seller.secret, name="Ledger test speech", isPaid=True, basePriceCents=1000
    )
    return published


def set_shares(
    version: DatasetVersion, owner: User, lines: list[tuple[str, int | str]], *, basis="percentage"
) -> ShareTable:
    """lines: ("org", amount) for the owning organisation or (email, amount); the amount is a
    percent (str or int) or a weight, per `basis`."""
    key = "percent" if basis == "percentage" else "weight"
    shares = [
        {"organization": True, key: amount} if who == "org" else {"email": who, key: amount}
        for who, amount in lines
    ]
    table, _ = share_table_set(
        actor=actor_for_member(user=owner, organization=version.dataset.organization),
        dataset=version.dataset,
        basis=basis,
        shares=shares,
    )
    return table


def payee_of(table: ShareTable, who: str) -> Payee:
    if who == "org":
        return Payee.objects.get(organization=table.dataset.organization)
    return Payee.objects.get(contributor__email=who)


def payees_seeded(count: int, domain: str) -> list[int]:
    """`count` contributors (c<n>@<domain>) with a payee each, set-based: the payee ids in
    creation order (for statements above the entry trigger's large-statement threshold)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO contributors_contributor (email, name, invite_token_hash, created_at)
            SELECT 'c' || g || %s, 'Contributor ' || g, '', now()
            FROM generate_series(1, %s) g
            """,
            ["@" + domain, count],
        )
        cursor.execute(
            """
            INSERT INTO contributors_payee (kind, contributor_id, created_at)
            SELECT 'contributor', id, now() FROM contributors_contributor
            WHERE email LIKE %s ORDER BY id
            RETURNING id
            """,
            ["%@" + domain],
        )
        return [row[0] for row in cursor.fetchall()]
