import pytest
from rest_framework.test import APIClient

from tests.assertions import assert_error
from tests.factories import make_key, make_org

pytestmark = pytest.mark.django_db


def authed(secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_400_validation_error_names_the_field():
    secret, _ = make_key()
    body = assert_error(
        authed(secret).post("/api/keys", {"name": "x" * 101}, format="json"),
        400,
        "validation_error",
    )
    assert body["message"].startswith("name:")
    assert "name" in body["fields"]


def test_400_malformed_json():
    secret, _ = make_key()
    response = authed(secret).post("/api/keys", data="{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_401():
    assert_error(APIClient().get("/api/keys"), 401)


def test_403_member_may_not_request_upload_access():
    org, owner = make_org()
    member_secret, _ = make_key(org=org)
    body = assert_error(authed(member_secret).post("/api/organization/upload-access"), 403)
    assert "owner" in body["message"]


def test_404_unknown_api_route_and_unknown_object():
    secret, _ = make_key()
    assert_error(APIClient().get("/api/no-such-thing"), 404, "not_found")
    assert_error(APIClient().post("/api/no-such-thing", {}), 404, "not_found")
    assert_error(authed(secret).get("/api/keys/999999"), 404, "not_found")


def test_405():
    secret, _ = make_key()
    assert_error(authed(secret).put("/api/me", {}, format="json"), 405, "method_not_allowed")


def test_415_unsupported_media_type():
    secret, _ = make_key()
    response = authed(secret).post("/api/keys", data="name=x", content_type="text/plain")
    assert_error(response, 415)


@pytest.mark.urls("tests.foundation.urls_boom")
def test_500_hides_internals():
    client = APIClient(raise_request_exception=False)
    body = assert_error(client.get("/api/boom"), 500, "server_error")
    assert "kaboom" not in body["message"]


def test_post_without_trailing_slash_is_served_not_redirected():
    secret, _ = make_key()
    response = authed(secret).post("/api/keys", {"name": "n"}, format="json")
    assert response.status_code == 201
    # The slash form is not an alias that redirects a POST either.
    assert authed(secret).post("/api/keys/", {"name": "n"}, format="json").status_code == 404


def test_owner_requests_upload_access():
    org, owner = make_org()
    secret, _ = make_key(org=org, user=owner)
    response = authed(secret).post("/api/organization/upload-access")
    assert response.status_code == 200
    assert response.json()["uploadAccess"] == "requested"
