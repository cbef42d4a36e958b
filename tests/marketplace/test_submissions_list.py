"""GET /api/submissions: the caller's organisation's submissions (newest first, deleted ones
left out), paged like every list, filtered by status, each in the detail's shape; another
organisation's never show; a constant number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.assertions import assert_error
from tests.catalogue_helpers import api, make_archive, publish_dataset
from tests.parties import party

pytestmark = pytest.mark.django_db


def draft(client, name: str) -> str:
    response = client.post("/api/submissions", {"name": name}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["submission"]["id"]


def test_lists_the_organisations_submissions_newest_first(provider):
    published, _version = publish_dataset(provider.secret, name="Published speech")
    client = provider.client
    first, second, gone = (draft(client, n) for n in ("First draft", "Second draft", "Gone"))
    assert client.delete(f"/api/submissions/{gone}").status_code == 204

    body = client.get("/api/submissions").json()
    assert (body["total"], body["page"], body["limit"]) == (3, 1, 50)
    assert [s["id"] for s in body["items"]] == [second, first, published]
    for item in body["items"]:
        detail = client.get(f"/api/submissions/{item['id']}").json()["submission"]
        assert item == detail
    assert body["items"][2]["status"] == "approved" and body["items"][2]["datasetId"]


def test_filter_by_status_and_paging(provider):
    published, _version = publish_dataset(provider.secret, name="Published speech")
    client = provider.client
    drafts = [draft(client, f"Draft {n}") for n in range(3)]

    drafts_only = client.get("/api/submissions", {"status": "draft"}).json()
    assert [s["id"] for s in drafts_only["items"]] == drafts[::-1]
    assert {s["status"] for s in drafts_only["items"]} == {"draft"}
    approved = client.get("/api/submissions", {"status": "approved"}).json()
    assert [s["id"] for s in approved["items"]] == [published]
    assert client.get("/api/submissions", {"status": "rejected"}).json()["total"] == 0

    pages = [client.get("/api/submissions", {"limit": 2, "page": p}).json() for p in (1, 2, 3)]
    assert [[s["id"] for s in p["items"]] for p in pages] == [
        [drafts[2], drafts[1]],
        [drafts[0], published],
        [],
    ]
    assert all(p["total"] == 4 for p in pages)


@pytest.mark.parametrize(
    "query",
    [{"status": "deleted"}, {"status": "nonsense"}, {"limit": 0}, {"page": "x"}, {"limit": 201}],
)
def test_bad_parameters_are_400_with_the_envelope(provider, query):
    assert_error(provider.client.get("/api/submissions", query), 400)


def test_only_the_callers_organisation_and_upload_access(provider, buyer):
    mine = draft(provider.client, "Provider draft")
    other = party(uploads=True)
    theirs = draft(other.client, "Other draft")
    assert [s["id"] for s in other.client.get("/api/submissions").json()["items"]] == [theirs]
    assert [s["id"] for s in provider.client.get("/api/submissions").json()["items"]] == [mine]
    # As every submission endpoint: an organisation without upload access, and no key at all.
    assert_error(buyer.client.get("/api/submissions"), 403, "upload_access_required")
    assert_error(api(None).get("/api/submissions"), 401)


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/submissions").status_code == 200
    return len(queries)


def test_query_count_does_not_grow_with_the_list(provider):
    publish_dataset(provider.secret, name="Published speech", data=make_archive(1_000))
    client = provider.client
    draft(client, "One")
    few = _queries(client)
    publish_dataset(provider.secret, name="Published again", data=make_archive(1_500))
    for n in range(4):
        draft(client, f"More {n}")
    assert client.get("/api/submissions").json()["total"] == 7
    assert _queries(client) == few
