"""GET/PUT /api/datasets/{id}/shares: validation, versioning, who may see and change them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contributors.models import Contributor, Payee, ShareTable
from marketplace.models import AuditEvent, Dataset
from tests.catalogue_helpers import api, publish_dataset
from tests.contributors.conftest import shares_url
from tests.factories import make_key

pytestmark = pytest.mark.django_db

ORG_60_ANA_40 = {
    "basis": "percentage",
    "shares": [
        {"organization": True, "percent": "60.00"},
        {"email": "ana@example.org", "name": "Ana", "percent": "40"},
    ],
}


def put(client, dataset, body):
    return client.put(shares_url(dataset), body, format="json")


def test_a_dataset_without_shares_has_version_1_all_to_the_organisation(owner, dataset):
    response = owner.get(shares_url(dataset))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["datasetId"], body["version"], body["basis"]) == (
        dataset.public_id,
        1,
        "percentage",
    )
    [line] = body["shares"]
    assert line["kind"] == "organization" and line["organization"] is True
    assert (line["percent"], line["weight"]) == ("100.00", 10_000)
    assert line["name"] == dataset.organization.name
    assert line["payeeId"] == str(Payee.objects.get(organization=dataset.organization).pk)
    # Reading again does not create another version.
    assert owner.get(shares_url(dataset)).json()["version"] == 1
    assert ShareTable.objects.filter(dataset=dataset).count() == 1


def test_put_percentages_stores_basis_points_and_returns_the_new_version(owner, dataset):
    response = put(owner, dataset, ORG_60_ANA_40)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["version"], body["basis"], body["changed"]) == (1, "percentage", True)
    org_line, ana_line = body["shares"]
    assert (org_line["organization"], org_line["percent"], org_line["weight"]) == (
        True,
        "60.00",
        6000,
    )
    assert ana_line == {
        "payeeId": str(Contributor.objects.get(email="ana@example.org").payee.pk),
        "kind": "contributor",
        "organization": False,
        "name": "Ana",
        "email": "ana@example.org",
        "percent": "40.00",
        "weight": 4000,
        "claimed": False,
    }
    table = ShareTable.objects.get(dataset=dataset)
    assert sorted(table.lines.values_list("weight", flat=True)) == [4000, 6000]
    assert owner.get(shares_url(dataset)).json() == {
        k: v for k, v in body.items() if k != "changed"
    }


def test_weights_are_positive_integers_split_pro_rata(owner, dataset):
    response = put(
        owner,
        dataset,
        {
            "basis": "weight",
            "shares": [
                {"email": "ana@example.org", "weight": 120},
                {"email": "ben@example.org", "weight": "30"},
                {"organization": True, "weight": 1},
            ],
        },
    )
    assert response.status_code == 200, response.json()
    lines = response.json()["shares"]
    assert [(line["weight"], line["percent"]) for line in lines] == [
        (120, None),
        (30, None),
        (1, None),
    ]
    assert response.json()["basis"] == "weight"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                "basis": "percentage",
                "shares": [
                    {"organization": True, "percent": "60"},
                    {"email": "a@example.org", "percent": "35"},
                ],
            },
            "percentages sum to 95.00, not 100",
        ),
        (
            {
                "basis": "percentage",
                "shares": [
                    {"organization": True, "percent": "60.005"},
                    {"email": "a@example.org", "percent": "39.995"},
                ],
            },
            "shares[0].percent: at most 2 decimals",
        ),
        (
            {
                "basis": "percentage",
                "shares": [
                    {"email": "a@example.org", "percent": "50"},
                    {"email": "A@Example.org ", "percent": "50"},
                ],
            },
            "shares[1]: a@example.org appears more than once (also shares[0])",
        ),
        (
            {
                "basis": "percentage",
                "shares": [
                    {"organization": True, "percent": "50"},
                    {"organization": True, "percent": "50"},
                ],
            },
            "shares[1]: the organisation appears more than once",
        ),
        (
            {"basis": "percentage", "shares": [{"email": "not-an-email", "percent": "100"}]},
            "shares[0].email: 'not-an-email' is not a valid e-mail address",
        ),
        ({"basis": "percentage", "shares": []}, "shares: at least one share is needed"),
        ({"basis": "percentage"}, "shares: must be a list"),
        (
            {
                "basis": "weight",
                "shares": [
                    {"organization": True, "weight": 3},
                    {"email": "a@example.org", "weight": -2},
                ],
            },
            "shares[1].weight: must be a positive whole number (got -2)",
        ),
        (
            {"basis": "weight", "shares": [{"email": "a@example.org", "weight": 0}]},
            "shares[0].weight: must be a positive whole number (got 0)",
        ),
        (
            {"basis": "weight", "shares": [{"email": "a@example.org", "weight": 1.5}]},
            "shares[0].weight: must be a positive whole number",
        ),
        (
            {
                "basis": "percentage",
                "shares": [
                    {"organization": True, "percent": "-10"},
                    {"email": "a@example.org", "percent": "110"},
                ],
            },
            "shares[0].percent: must be more than 0",
        ),
        (
            {"basis": "percentage", "shares": [{"organization": True, "percent": "abc"}]},
            "shares[0].percent: 'abc' is not a number",
        ),
        (
            {"basis": "shares", "shares": [{"organization": True, "percent": "100"}]},
            'basis: must be "percentage" or "weight"',
        ),
        (
            {"basis": "weight", "shares": [{"organization": True, "percent": "100"}]},
            'shares[0]: use "weight", not "percent", with basis "weight"',
        ),
        (
            {"basis": "percentage", "shares": [{"name": "Nobody", "percent": "100"}]},
            'shares[0]: give either "organization": true or an "email"',
        ),
        (
            {"basis": "percentage", "shares": [{"organization": True, "percentage": "100"}]},
            "shares[0]: unknown field 'percentage'",
        ),
    ],
)
def test_invalid_tables_are_422_naming_the_problem_and_change_nothing(
    owner, dataset, body, message
):
    response = put(owner, dataset, body)
    assert response.status_code == 422, response.json()
    assert message in response.json()["message"]
    assert response.json()["error"]
    assert not ShareTable.objects.filter(dataset=dataset).exists()
    assert not Contributor.objects.exists()


def test_sum_error_has_its_own_code(owner, dataset):
    body = {"basis": "percentage", "shares": [{"organization": True, "percent": "99.99"}]}
    response = put(owner, dataset, body)
    assert response.json() == {
        "message": "shares: percentages sum to 99.99, not 100.",
        "error": "shares_not_100",
    }


def test_each_change_is_a_new_version_and_an_identical_put_is_a_no_op(owner, dataset):
    first = put(owner, dataset, ORG_60_ANA_40).json()
    again = put(owner, dataset, ORG_60_ANA_40).json()
    assert (again["version"], again["changed"]) == (first["version"], False)
    # Order of lines and e-mail case do not make a different table.
    reordered = {
        "basis": "percentage",
        "shares": [
            {"email": "ANA@example.org", "name": "Ana", "percent": "40.00"},
            {"organization": True, "percent": 60},
        ],
    }
    assert put(owner, dataset, reordered).json()["changed"] is False
    changed = put(
        owner,
        dataset,
        {
            "basis": "percentage",
            "shares": [
                {"organization": True, "percent": "50"},
                {"email": "ana@example.org", "name": "Ana", "percent": "50"},
            ],
        },
    ).json()
    assert (changed["version"], changed["changed"]) == (2, True)
    as_weights = put(
        owner,
        dataset,
        {
            "basis": "weight",
            "shares": [
                {"organization": True, "weight": 1},
                {"email": "ana@example.org", "name": "Ana", "weight": 1},
            ],
        },
    ).json()
    assert as_weights["version"] == 3  # same split, another basis: another table

    tables = list(ShareTable.objects.filter(dataset=dataset).order_by("version"))
    assert [t.version for t in tables] == [1, 2, 3]
    # Old versions are kept exactly as they were (sales recorded them).
    assert sorted(tables[0].lines.values_list("weight", flat=True)) == [4000, 6000]
    assert sorted(tables[1].lines.values_list("weight", flat=True)) == [5000, 5000]
    # One contributor and one payee for Ana across versions.
    assert Contributor.objects.filter(email="ana@example.org").count() == 1
    assert Payee.objects.filter(contributor__email="ana@example.org").count() == 1
    # One audit row per new version, with the acting user.
    events = AuditEvent.objects.filter(action="share_table.create").order_by("pk")
    assert [e.data["version"] for e in events] == [1, 2, 3]
    assert all(
        e.actor_id == dataset.organization.memberships.get(role="owner").user_id for e in events
    )
    assert events[1].data["previousVersion"] == 1


def test_a_contributor_named_by_two_organisations_is_one_payee(owner, dataset):
    other_secret, _ = make_key(uploads=True)
    sid, _ = publish_dataset(other_secret, name="Another dataset")
    other_dataset = Dataset.objects.get(submissions__public_id=sid)
    put(owner, dataset, ORG_60_ANA_40)
    response = put(
        api(other_secret),
        other_dataset,
        {
            "basis": "weight",
            "shares": [{"email": "ana@example.org", "name": "Ana Other", "weight": 7}],
        },
    )
    assert response.status_code == 200
    payee_ids = {
        owner.get(shares_url(dataset)).json()["shares"][1]["payeeId"],
        response.json()["shares"][0]["payeeId"],
    }
    assert len(payee_ids) == 1
    # Each organisation sees the name it entered; the person's own record keeps the first.
    assert response.json()["shares"][0]["name"] == "Ana Other"
    assert Contributor.objects.get().name == "Ana"


def test_another_organisations_dataset_and_an_unknown_one_are_404(outsider, owner, dataset):
    assert outsider.client.get(shares_url(dataset)).status_code == 404
    response = put(outsider.client, dataset, ORG_60_ANA_40)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert owner.get("/api/datasets/dsdoesnotexist000000000/shares").status_code == 404
    unknown = owner.put("/api/datasets/dsunknown/shares", ORG_60_ANA_40, format="json")
    assert unknown.status_code == 404
    assert not ShareTable.objects.filter(dataset=dataset).exists()


def test_members_read_masked_emails_and_only_owners_change_shares(owner, member_client, dataset):
    put(owner, dataset, ORG_60_ANA_40)
    seen = member_client.get(shares_url(dataset))
    assert seen.status_code == 200
    assert seen.json()["shares"][1]["email"] == "a***@example.org"
    response = put(
        member_client,
        dataset,
        {"basis": "percentage", "shares": [{"organization": True, "percent": "100"}]},
    )
    assert response.status_code == 403
    assert response.json()["error"] == "owner_only"
    assert ShareTable.objects.filter(dataset=dataset).count() == 1


def test_without_a_key_it_is_401(dataset):
    response = api().get(shares_url(dataset))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_get_shares_runs_a_constant_number_of_queries(owner, dataset):
    def shares_of(n):
        put(
            owner,
            dataset,
            {
                "basis": "weight",
                "shares": [{"organization": True, "weight": 1}]
                + [
                    {"email": f"c{i}@example.org", "name": f"C{i}", "weight": i + 1}
                    for i in range(n)
                ],
            },
        )
        owner.get(shares_url(dataset))  # warm: last_used_at of the key
        with CaptureQueriesContext(connection) as queries:
            response = owner.get(shares_url(dataset))
        assert len(response.json()["shares"]) == n + 1
        return len(queries)

    few, many = shares_of(2), shares_of(40)
    assert few == many
    assert many <= 6
