"""A staff user of each group can do exactly its job in the admin: the pages and actions of the
others are 403 or absent, and an action posted without its permission changes nothing."""

import pytest

from marketplace.models import AuditEvent, Organization
from marketplace.services.identity import organization_request_upload_access
from tests.parties import party
from tests.staff.conftest import staff_client

pytestmark = pytest.mark.django_db

ORGS = "/admin/marketplace/organization/"
SUBMISSIONS = "/admin/marketplace/submission/"
DATASETS = "/admin/marketplace/dataset/"
KEYS = "/admin/marketplace/apikey/"
MEMBERS = "/admin/marketplace/membership/"
AUDIT = "/admin/marketplace/auditevent/"
ORDERS = "/admin/licensing/order/"
GRANTS = "/admin/licensing/grant/"
LICENSES = "/admin/licensing/license/"
DOWNLOADS = "/admin/licensing/downloadsession/"
ACCESS_REQUESTS = "/admin/licensing/accessrequest/"
RUNS = "/admin/payouts/payoutrun/"
LEDGER = "/admin/payouts/ledgeraccount/"
RECONCILIATION = "/admin/payouts/reconciliationreport/"
CONTRIBUTORS = "/admin/contributors/contributor/"


@pytest.fixture
def requesting_org():
    applicant = party()
    organization_request_upload_access(actor=applicant.actor)
    return applicant.org


def _actions(client, url) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200, url
    form = response.context["action_form"]  # None when the user may run no action at all
    choices = form.fields["action"].choices if form is not None else []
    return {value for value, _label in choices if value}


def _status(client, urls) -> dict[str, int]:
    return {url: client.get(url).status_code for url in urls}


def _approve(client, org):
    return client.post(ORGS, {"action": "approve_upload_access", "_selected_action": [org.pk]})


def test_reviewer_decides_upload_access_and_reviews_but_sees_no_money(
    reviewer_user, requesting_org
):
    client = staff_client(reviewer_user)
    assert _status(
        client, [ORGS, SUBMISSIONS, DATASETS, LICENSES, ACCESS_REQUESTS]
    ) == dict.fromkeys([ORGS, SUBMISSIONS, DATASETS, LICENSES, ACCESS_REQUESTS], 200)
    assert _status(
        client, [ORDERS, GRANTS, RUNS, LEDGER, RECONCILIATION, KEYS, AUDIT]
    ) == dict.fromkeys([ORDERS, GRANTS, RUNS, LEDGER, RECONCILIATION, KEYS, AUDIT], 403)
    assert _actions(client, ORGS) == {"approve_upload_access", "reject_upload_access"}
    assert _actions(client, SUBMISSIONS) == {"approve", "reject", "rerun_checks"}

    assert _approve(client, requesting_org).status_code == 302
    requesting_org.refresh_from_db()
    assert requesting_org.upload_access == Organization.UploadAccess.APPROVED
    event = AuditEvent.objects.get(action="upload_access.approve", object_id=str(requesting_org.pk))
    assert event.actor == reviewer_user


def test_finance_reads_orders_runs_and_ledger_but_decides_nothing_of_the_review(
    finance_user, requesting_org
):
    client = staff_client(finance_user)
    money = [ORDERS, GRANTS, RUNS, LEDGER, RECONCILIATION]
    assert _status(client, money) == dict.fromkeys(money, 200)
    others = [ORGS, SUBMISSIONS, DATASETS, LICENSES, KEYS, MEMBERS, AUDIT, CONTRIBUTORS]
    assert _status(client, others) == dict.fromkeys(others, 403)
    assert "revoke" in _actions(client, GRANTS)

    assert _approve(client, requesting_org).status_code == 403
    requesting_org.refresh_from_db()
    assert requesting_org.upload_access == Organization.UploadAccess.REQUESTED


def test_support_reads_organisations_keys_and_downloads_and_changes_nothing(
    support_user, requesting_org
):
    client = staff_client(support_user)
    readable = [ORGS, MEMBERS, KEYS, DOWNLOADS, ACCESS_REQUESTS]
    assert _status(client, readable) == dict.fromkeys(readable, 200)
    others = [SUBMISSIONS, DATASETS, LICENSES, ORDERS, GRANTS, RUNS, LEDGER, AUDIT, CONTRIBUTORS]
    assert _status(client, others) == dict.fromkeys(others, 403)
    # No action at all on the organisations (not even delete), and a posted one does nothing.
    assert _actions(client, ORGS) == set()
    _approve(client, requesting_org)
    requesting_org.refresh_from_db()
    assert requesting_org.upload_access == Organization.UploadAccess.REQUESTED
    assert not AuditEvent.objects.filter(action="upload_access.approve").exists()

    # The organisation's page is read-only: no save button, and a POST is refused.
    change = f"{ORGS}{requesting_org.pk}/change/"
    page = client.get(change)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(change, {"name": "Renamed"}).status_code == 403
    # Keys are listed without their secret hash.
    key_page = client.get(f"{KEYS}{requesting_org.api_keys.get().pk}/change/")
    assert key_page.status_code == 200
    assert requesting_org.api_keys.get().key_hash not in key_page.content.decode()


def test_staff_without_a_group_sees_nothing(db):
    from tests.factories import make_user

    client = staff_client(make_user(is_staff=True))
    assert client.get("/admin/").status_code == 200
    pages = [ORGS, SUBMISSIONS, DATASETS, ORDERS, RUNS, KEYS]
    assert _status(client, pages) == dict.fromkeys(pages, 403)
