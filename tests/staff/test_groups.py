"""The staff groups and their permissions (the data migration), and staff creation: being staff
no longer makes a superuser."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from marketplace.services.errors import Invalid
from marketplace.services.identity import user_create
from tests.factories import make_user

pytestmark = pytest.mark.django_db

# The shared contract: every custom permission and which group holds it.
CUSTOM = {
    "marketplace.decide_upload_access": "reviewer",
    "marketplace.review_submission": "reviewer",
    "marketplace.rerun_checks": "reviewer",
    "marketplace.takedown_dataset": "reviewer",
    "licensing.refund_order": "finance",
    "payouts.view_finance_overview": "finance",
    "payouts.execute_payoutrun": "finance",
    "payouts.run_reconciliation": "finance",
    "payouts.export_statements": "finance",
}


def test_the_migration_creates_the_groups_and_the_custom_permissions():
    assert set(Group.objects.values_list("name", flat=True)) >= {"reviewer", "finance", "support"}
    for perm in CUSTOM:
        app_label, codename = perm.split(".")
        assert Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).exists(), perm


@pytest.mark.parametrize("group", ["reviewer", "finance", "support"])
def test_each_group_holds_exactly_its_custom_permissions(group):
    user = make_user(is_staff=True, groups=[group])
    for perm, owner in CUSTOM.items():
        assert user.has_perm(perm) is (owner == group), (group, perm)


def test_support_can_only_view():
    support = Group.objects.get(name="support")
    codenames = set(support.permissions.values_list("codename", flat=True))
    assert codenames == {
        "view_organization",
        "view_membership",
        "view_apikey",
        "view_downloadsession",
        "view_accessrequest",
    }


def test_finance_reads_orders_and_the_ledger_but_changes_no_model_directly():
    finance = make_user(is_staff=True, groups=["finance"])
    for perm in [
        "licensing.view_order",
        "payouts.view_ledgeraccount",
        "payouts.view_journaltransaction",
        "payouts.view_payoutrun",
        "payouts.view_payoutline",
        "payouts.view_reconciliationreport",
    ]:
        assert finance.has_perm(perm), perm
    changes = Group.objects.get(name="finance").permissions.filter(
        codename__regex=r"^(add|change|delete)_"
    )
    assert not changes.exists()


def test_creating_a_staff_user_does_not_make_a_superuser():
    staff = user_create(username="new-staff", is_staff=True)
    assert staff.is_staff and not staff.is_superuser
    assert not staff.has_perm("marketplace.review_submission")
    assert not staff.has_perm("marketplace.change_dataset")
    boss = user_create(username="boss", is_staff=True, is_superuser=True)
    assert boss.is_superuser


def test_staff_groups_are_checked_when_a_user_is_created():
    with pytest.raises(Invalid, match="no such staff group"):
        user_create(username="typo", is_staff=True, groups=["reviewers"])
    with pytest.raises(Invalid, match="only staff"):
        user_create(username="not-staff", groups=["finance"])
    with pytest.raises(Invalid, match="only staff"):
        user_create(username="not-staff", is_superuser=True)
    reviewer = user_create(username="rev", is_staff=True, groups=["reviewer"])
    assert list(reviewer.groups.values_list("name", flat=True)) == ["reviewer"]


@pytest.mark.django_db(transaction=True)
def test_the_groups_survive_a_flush():
    """Every migrate and flush ends by putting the groups back (web.apps), so a flushed test
    database or groups deleted by hand do not leave staff without their rights."""
    Group.objects.filter(name="finance").delete()
    call_command("flush", interactive=False, verbosity=0)
    assert set(Group.objects.values_list("name", flat=True)) == {"reviewer", "finance", "support"}
    finance = make_user(is_staff=True, groups=["finance"])
    assert finance.has_perm("licensing.refund_order") and finance.has_perm("licensing.view_order")
