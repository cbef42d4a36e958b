"""The download-session hot path (E4): two database round trips once the key is cached, and the
session row committed without waiting for the WAL flush only when it is its own transaction."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from licensing.models import DownloadSession, Grant
from licensing.services.grants import grant_issue
from tests.licensing.conftest import accept_terms, publish


def download(party, dataset):
    return party.client.post(f"/api/datasets/{dataset.public_id}/download")


def paid_with_grant(provider, buyer, name):
    dataset = publish(provider, name, isPaid=True, basePriceCents=500)
    grant_issue(
        organization=buyer.org,
        dataset=dataset,
        terms_hash=accept_terms(buyer, dataset),
        source=Grant.Source.PURCHASE,
        actor=None,
    )
    return dataset


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_download_session_is_two_queries_with_the_key_cached(provider, buyer):
    dataset = paid_with_grant(provider, buyer, "Hot path")
    download(buyer, dataset)  # warm-up: the key is read once, then served from the cache
    with CaptureQueriesContext(connection) as queries:
        assert download(buyer, dataset).status_code == 200
    # the dataset with its license, the caller's acceptances, grant and access request; the
    # session row
    assert len(queries) == 2, [q["sql"][:80] for q in queries]


@pytest.mark.django_db
def test_inside_a_callers_transaction_the_commit_stays_synchronous(provider, buyer):
    """The test runs in a transaction, as a caller's atomic block would: the session row must
    not turn the whole transaction's commit asynchronous."""
    dataset = paid_with_grant(provider, buyer, "In a transaction")
    assert download(buyer, dataset).status_code == 200
    assert synchronous_commit() == "on"


@pytest.mark.django_db(transaction=True)
def test_a_session_row_of_its_own_is_recorded_and_the_setting_ends_with_it(provider, buyer):
    dataset = paid_with_grant(provider, buyer, "Own transaction")
    assert connection.get_autocommit()
    response = download(buyer, dataset)
    assert response.status_code == 200
    assert DownloadSession.objects.filter(public_id=response.json()["sessionId"]).exists()
    # `SET LOCAL` semantics: the next statement on the same connection commits synchronously.
    assert synchronous_commit() == "on"
