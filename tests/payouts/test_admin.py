import pytest
from django.urls import reverse

from payouts.models import Entry, JournalTransaction, LedgerAccount
from payouts.services import sale_post
from tests.factories import make_user
from tests.payouts.conftest import set_shares

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(make_user(is_staff=True, groups=["finance"]))
    return client


@pytest.fixture
def sale(version, seller):
    set_shares(version, seller.owner, [("org", "60"), ("a@example.com", "40")])
    return sale_post(
        order_ref="ord-admin",
        dataset_version=version,
        gross_cents=1000,
        platform_fee_cents=50,
        currency="usd",
    )


def test_ledger_pages_are_readable(staff_client, sale):
    account = LedgerAccount.objects.filter(payee__isnull=False).first()
    entry = Entry.objects.filter(transaction=sale).first()
    pages = [
        reverse("admin:payouts_journaltransaction_changelist"),
        reverse("admin:payouts_journaltransaction_change", args=[sale.pk]),
        reverse("admin:payouts_ledgeraccount_changelist"),
        reverse("admin:payouts_ledgeraccount_change", args=[account.pk]),
        reverse("admin:payouts_entry_changelist") + f"?transaction__id__exact={sale.pk}",
        reverse("admin:payouts_entry_changelist") + f"?account__id__exact={account.pk}",
        reverse("admin:payouts_entry_change", args=[entry.pk]),
    ]
    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url
    detail = staff_client.get(reverse("admin:payouts_journaltransaction_change", args=[sale.pk]))
    body = detail.content.decode()
    assert sale.hash in body and "sale:ord-admin" in body
    assert "10.000000" in body  # the clearing entry, 1000 cents, shown in units
    assert 'name="_save"' not in body  # no save button: nothing to change


def test_ledger_cannot_be_added_changed_or_deleted_in_the_admin(staff_client, sale):
    entries = sale.entries.count()
    for model in ("journaltransaction", "ledgeraccount", "entry"):
        assert staff_client.get(reverse(f"admin:payouts_{model}_add")).status_code == 403
    change = reverse("admin:payouts_journaltransaction_change", args=[sale.pk])
    assert staff_client.post(change, {"external_reference": "edited"}).status_code == 403
    delete = reverse("admin:payouts_journaltransaction_delete", args=[sale.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:payouts_entry_changelist")
    response = staff_client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [e.pk for e in sale.entries.all()]},
    )
    assert response.status_code in (200, 302, 403)
    sale.refresh_from_db()
    assert sale.external_reference == ""
    assert JournalTransaction.objects.count() == 1 and sale.entries.count() == entries == 4
