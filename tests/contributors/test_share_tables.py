"""What the ledger calls: share_table_current and the payee get-or-create services; and the
read-only admin."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from contributors.models import Contributor, Payee, ShareLine, ShareTable
from contributors.services import (
    payee_for_contributor,
    payee_for_organization,
    share_table_set,
)
from contributors.services.shares import share_table_current
from marketplace.actors import actor_for_key
from marketplace.models import AuditEvent, Dataset, Submission
from tests.catalogue_helpers import publish_dataset
from tests.factories import make_key, make_user

pytestmark = pytest.mark.django_db


def test_share_table_current_creates_the_default_once_then_follows_new_versions(provider, dataset):
    key = provider.key
    first = share_table_current(dataset)
    assert (first.version, first.basis) == (1, ShareTable.Basis.PERCENTAGE)
    [line] = first.lines.all()
    assert (line.payee, line.weight) == (payee_for_organization(dataset.organization), 10_000)
    assert share_table_current(dataset).pk == first.pk
    assert AuditEvent.objects.filter(action="share_table.create_default").count() == 1

    table, created = share_table_set(
        actor=actor_for_key(key),
        dataset=dataset,
        basis="weight",
        shares=[{"organization": True, "weight": 2}, {"email": "ana@example.org", "weight": 1}],
    )
    assert created and table.version == 2
    assert share_table_current(dataset).pk == table.pk


def test_payees_are_created_once(provider, dataset):
    key = provider.key
    org = dataset.organization
    payee = payee_for_organization(org)
    assert payee_for_organization(org).pk == payee.pk
    assert (payee.kind, payee.organization, payee.contributor) == ("organization", org, None)
    share_table_set(
        actor=actor_for_key(key),
        dataset=dataset,
        basis="weight",
        shares=[{"email": "zoe@example.org", "weight": 1}],
    )
    zoe = Contributor.objects.get(email="zoe@example.org")
    zoe_payee = payee_for_contributor(zoe)
    assert zoe_payee.pk == zoe.payee.pk == payee_for_contributor(zoe).pk
    assert zoe_payee.kind == "contributor"
    assert Payee.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_sales_create_one_default_table():
    secret, _ = make_key(uploads=True)
    sid, _ = publish_dataset(secret)
    dataset = Dataset.objects.get(pk=Submission.objects.get(public_id=sid).dataset_id)

    def current(_):
        try:
            return share_table_current(Dataset.objects.get(pk=dataset.pk)).pk
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        tables = set(pool.map(current, range(8)))
    assert len(tables) == 1
    assert ShareTable.objects.filter(dataset=dataset).count() == 1
    assert ShareLine.objects.filter(table__dataset=dataset).count() == 1


def test_share_tables_are_read_only_in_the_admin(owner, dataset):
    owner.put(
        f"/api/datasets/{dataset.public_id}/shares",
        {
            "basis": "percentage",
            "shares": [
                {"organization": True, "percent": "12.5"},
                {"email": "ana@example.org", "name": "Ana", "percent": "87.5"},
            ],
        },
        format="json",
    )
    table = ShareTable.objects.get(dataset=dataset)
    admin = Client()
    admin.force_login(make_user(is_staff=True, is_superuser=True))
    page = admin.get(f"/admin/contributors/sharetable/{table.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "87.50 %" in html and "Ana" in html
    assert 'name="_save"' not in html
    for model in ("contributor", "payee", "sharetable", "payoutaccount"):
        assert admin.get(f"/admin/contributors/{model}/").status_code == 200
        assert admin.get(f"/admin/contributors/{model}/add/").status_code == 403
