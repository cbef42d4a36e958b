"""CSV exports never hand a spreadsheet a formula: a text cell that starts with `=`, `+`, `-`,
`@`, a tab or a carriage return is written with a leading `'` (OWASP, CSV injection), numbers
stay numbers, and our own import reads an escaped cell back as it was. Checked on the helper
and on the admin's payout-run export, where payee names come from providers."""

import csv
import io

import pytest
from django.urls import reverse

from contributors.services.shares import share_table_set
from marketplace.actors import actor_for_member
from marketplace.csv_safe import csv_cell, csv_cell_unescape, csv_row
from payouts.services.runs import payout_run_create
from tests.factories import make_user
from tests.payouts.conftest import payee_of
from tests.payouts.test_payout_runs import enable_payouts, sell_and_release

FORMULAS = ["=1+1", "+1+1", "-A1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x","y")']


def test_cells_that_start_a_formula_are_escaped_and_read_back():
    assert [csv_cell(v) for v in FORMULAS] == ["'" + v for v in FORMULAS]
    assert [csv_cell_unescape(csv_cell(v)) for v in FORMULAS] == FORMULAS
    plain = ["-12.5", "+3", "-0.000001", "sale:x", "", "a=b", "'quoted", 7, -7, None]
    assert [csv_cell(v) for v in plain] == plain
    assert [csv_cell_unescape(v) for v in ["'quoted", "''", "'"]] == ["'quoted", "''", "'"]
    assert csv_row(["=x", 1, "ok"]) == ["'=x", 1, "ok"]


@pytest.mark.django_db
def test_the_payout_run_export_escapes_payee_names(client, version, seller, settings):
    settings.PAYOUT_THRESHOLD_CENTS = {"usd": 100}
    names = {"eq@example.com": '=HYPERLINK("http://evil","x")', "at@example.com": "@SUM(1+1)"}
    table, _ = share_table_set(
        actor=actor_for_member(user=seller.owner, organization=version.dataset.organization),
        dataset=version.dataset,
        basis="weight",
        shares=[{"email": email, "name": name, "weight": 1} for email, name in names.items()],
    )
    for email in names:
        enable_payouts(payee_of(table, email))
    sell_and_release(version, refs=["csv1"])
    run = payout_run_create(currency="usd")
    assert run.line_count == 2

    client.force_login(make_user(is_staff=True, groups=["finance"]))
    body = client.get(reverse("admin:payouts_payoutrun_csv", args=[run.pk])).content.decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert sorted(r["payee_name"] for r in rows) == sorted("'" + n for n in names.values())
    assert all(r["amount_cents"] == "500" for r in rows)  # numbers as they are
    assert not any(line.startswith(("=", "@")) or ",=" in line for line in body.splitlines())
