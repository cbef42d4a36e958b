"""Bad input answers a 4xx with the error envelope, never a 500 (issue 11, dynamic finding 3):
oversized bodies, deeply nested JSON, over-long e-mail addresses, NUL characters, absurd page
numbers, malformed certificate headers and unmatched /api routes (also with DEBUG on)."""

import base64
import json

import pytest
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.test import override_settings
from rest_framework.test import APIClient

from config.exceptions import api_exception_handler
from contributors.models import Contributor
from licensing.models import Order
from marketplace.models import OrganizationInvitation
from tests.assertions import assert_error
from tests.catalogue_helpers import make_archive, publish_dataset

pytestmark = pytest.mark.django_db

LONG_EMAIL = ("a" * 64) + "@" + ".".join(["b" * 63, "c" * 63, "d" * 63]) + ".org"


def test_long_email_is_valid_syntax_but_longer_than_the_columns():
    from django.core.validators import validate_email

    validate_email(LONG_EMAIL)  # Django accepts up to 320 characters
    assert len(LONG_EMAIL) > 254


def test_body_over_the_limit_is_413(provider):
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024
    body = json.dumps({"name": "x" * size})
    response = provider.client.post("/api/submissions", data=body, content_type="application/json")
    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize("depth", [1_000, 5_000, 100_000])
def test_deeply_nested_json_is_400(provider, depth):
    body = "[" * depth + "]" * depth
    response = provider.client.post("/api/submissions", data=body, content_type="application/json")
    assert_error(response, 400, "parse_error")
    body = '{"a":' * depth + "1" + "}" * depth
    response = provider.client.post("/api/keys", data=body, content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_brackets_inside_strings_are_not_nesting(provider):
    name = "[" * 5_000 + "{" * 5_000
    response = provider.client.post(
        "/api/keys", data=json.dumps({"name": name[:100]}), content_type="application/json"
    )
    assert response.status_code == 201, response.json()


def test_share_table_with_an_overlong_email_is_400_and_writes_nothing(provider):
    _sid, version = publish_dataset(provider.secret, name="Long mail", data=make_archive(2_000))
    before = Contributor.objects.count()
    response = provider.client.put(
        f"/api/datasets/{version.dataset.public_id}/shares",
        {
            "basis": "weight",
            "shares": [{"organization": True, "weight": 1}, {"email": LONG_EMAIL, "weight": 1}],
        },
        format="json",
    )
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)
    assert Contributor.objects.count() == before


def test_organisation_invitation_with_an_overlong_email_is_refused(provider):
    from marketplace.services.errors import Invalid
    from marketplace.services.invitations import organization_invite

    with pytest.raises(Invalid):
        organization_invite(actor=provider.actor, email=LONG_EMAIL, role="member")
    assert not OrganizationInvitation.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/datasets/a%00b",
        "/api/datasets/a%00b/terms",
        "/api/submissions/%00",
        "/api/orders/x%00y",
        "/api/keys%00",
        "/api/uploads/%00/parts",
    ],
)
def test_nul_in_a_path_segment_is_404(provider, path):
    assert_error(provider.client.get(path), 404, "not_found")


def test_nul_in_idempotency_key_is_400_and_creates_no_order(buyer):
    response = buyer.client.post(
        "/api/orders",
        {"datasetId": "anything"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="key\x00with-nul",
    )
    assert_error(response, 400)
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "path",
    ["/api/orders", "/api/payouts", "/api/grants", "/api/access-requests", "/api/datasets"],
)
@pytest.mark.parametrize("page", ["1000000000000000000", "99999999999999999999999", "-1", "0"])
def test_every_list_validates_page_the_same_way(provider, path, page):
    body = assert_error(provider.client.get(path, {"page": page}), 400, "validation_error")
    assert "page" in body["fields"]


@pytest.mark.parametrize("limit", ["1000000000000000000", "0", "x"])
def test_every_list_validates_limit(provider, limit):
    for path in ("/api/orders", "/api/payouts"):
        body = assert_error(provider.client.get(path, {"limit": limit}), 400, "validation_error")
        assert "limit" in body["fields"]


def _b64(data) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("kid", [["a", "b"], {"k": 1}, 12, None])
def test_certificate_with_an_unhashable_kid_is_400(kid):
    header = _b64({"alg": "EdDSA", "kid": kid, "typ": "JWT"})
    token = f"{header}.{_b64({'sub': 'x'})}.{base64.urlsafe_b64encode(b'sig').decode()}"
    response = APIClient().post(
        "/api/certificates/verify", {"certificate": token, "token": token}, format="json"
    )
    assert 400 <= response.status_code < 500, response.content[:300]
    assert_error(response, response.status_code)


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unmatched_api_path_is_the_json_404(debug, method):
    with override_settings(DEBUG=debug):
        client = APIClient()
        for path in ("/api/no-such-thing", "/api/keys/", "/api/datasets/x/y/z", "/api/"):
            response = getattr(client, method)(path)
            assert response["Content-Type"].startswith("application/json"), path
            assert_error(response, 404, "not_found")
        # a browser's session cookie (CSRF applies to it) does not turn it into an HTML 403
        client = APIClient(enforce_csrf_checks=True)
        client.cookies["sessionid"] = "x"
        for path in ("/api/no-such-thing", "/api/keys/null"):
            response = getattr(client, method)(path)
            assert response["Content-Type"].startswith("application/json"), path
            assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    "field", ["pointOfContactEmail", "fundedByEmail", "legalContactEmail", "createdByEmail"]
)
def test_datasheet_with_an_overlong_email_is_400(provider, field):
    client = provider.client
    sid = client.post("/api/submissions", {"name": "Mail"}, format="json").json()["submission"][
        "id"
    ]
    response = client.patch(f"/api/submissions/{sid}", {field: LONG_EMAIL}, format="json")
    body = assert_error(response, 400, "validation_error")
    assert field in body["fields"]


def test_nul_in_a_json_string_is_400_and_writes_nothing(provider):
    _sid, version = publish_dataset(provider.secret, name="Nul", data=make_archive(2_000))
    before = Contributor.objects.count()
    shares = [{"organization": True, "weight": 1}, {"email": "a@example.org", "name": "x\x00y"}]
    shares[1]["weight"] = 1
    response = provider.client.put(
        f"/api/datasets/{version.dataset.public_id}/shares",
        {"basis": "weight", "shares": shares},
        format="json",
    )
    assert_error(response, 400, "parse_error")
    assert Contributor.objects.count() == before
    # an escaped backslash followed by "u0000" is ordinary text
    response = provider.client.post(
        "/api/keys", data='{"name": "C:\\\\u0000"}', content_type="application/json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["name"] == "C:\\u0000"


def test_nul_in_any_header_is_400_even_where_nothing_else_is_read(provider):
    response = provider.client.get("/api/me", HTTP_X_TRACE="a\x00b")
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (
            RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE."),
            413,
            "payload_too_large",
        ),
        (TooManyFieldsSent("Too many fields."), 400, "bad_request"),
        (RecursionError("maximum recursion depth exceeded"), 400, "bad_request"),
    ],
)
def test_what_slips_past_the_guard_is_still_the_envelope(exc, status, code):
    """A view that reads the body itself (the guard judged only the headers) gets the same
    answers from the API's exception handler, never a 500."""
    response = api_exception_handler(exc, {})
    assert response.status_code == status
    assert response.data["error"] == code and response.data["message"]
    assert "settings" not in response.data["message"]
