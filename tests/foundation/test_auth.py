import pytest
from rest_framework.test import APIClient

from marketplace.actors import actor_for_key
from marketplace.models import ApiKey, AuditEvent
from marketplace.services.identity import api_key_revoke
from tests.factories import make_key, make_org, make_user

pytestmark = pytest.mark.django_db


def client_for(secret: str | None) -> APIClient:
    client = APIClient()
    if secret:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_valid_key_authenticates_and_names_its_organisation():
    secret, key = make_key()
    response = client_for(secret).get("/api/me")
    assert response.status_code == 200
    assert response.json()["organization"]["slug"] == key.organization.slug
    assert response.json()["apiKey"]["prefix"] == key.prefix
    key.refresh_from_db()
    assert key.last_used_at is not None


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer nonsense",
        "Bearer dc_000000000000_wrongsecret",
        "Bearer ",
    ],
)
def test_missing_or_bad_key_is_401_with_www_authenticate(header):
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body["error"] in {"not_authenticated", "authentication_failed"}
    assert body["message"]


def test_right_prefix_wrong_secret_is_401():
    secret, key = make_key()
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    assert client_for(forged).get("/api/me").status_code == 401


def test_revoked_key_is_401():
    secret, key = make_key()
    api_key_revoke(key=key, actor=actor_for_key(key))
    response = client_for(secret).get("/api/me")
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]


def test_keys_are_stored_hashed_only():
    secret, key = make_key()
    row = ApiKey.objects.filter(pk=key.pk).values().get()
    assert secret not in {str(v) for v in row.values()}
    assert secret.split("_", 2)[2] not in "".join(str(v) for v in row.values())
    assert len(row["key_hash"]) == 64


def test_key_created_through_api_is_shown_once_and_works():
    secret, key = make_key()
    client = client_for(secret)
    created = client.post("/api/keys", {"name": "ci"}, format="json")
    assert created.status_code == 201
    new_secret = created.json()["key"]
    assert client_for(new_secret).get("/api/me").status_code == 200
    listed = client.get("/api/keys").json()["items"]
    assert all("key" not in item for item in listed)
    assert {item["name"] for item in listed} == {"", "ci"}
    assert AuditEvent.objects.filter(
        action="api_key.create", object_id=created.json()["id"]
    ).exists()


def test_revoking_through_api_and_other_org_keys_are_404():
    secret, key = make_key()
    other_secret, other_key = make_key()
    client = client_for(secret)
    assert client.delete(f"/api/keys/{other_key.pk}").status_code == 404
    assert client.get(f"/api/keys/{other_key.pk}").status_code == 404
    assert client_for(other_secret).get("/api/me").status_code == 200

    second = client.post("/api/keys", {"name": "temp"}, format="json").json()
    assert client.delete(f"/api/keys/{second['id']}").status_code == 204
    assert client_for(second["key"]).get("/api/me").status_code == 401


def test_member_cannot_revoke_colleagues_key_but_owner_can():
    org, owner = make_org()
    owner_secret, owner_key = make_key(org=org, user=owner)
    member_secret, member_key = make_key(org=org)
    assert client_for(member_secret).delete(f"/api/keys/{owner_key.pk}").status_code == 404
    assert client_for(owner_secret).delete(f"/api/keys/{member_key.pk}").status_code == 204
    assert client_for(member_secret).get("/api/me").status_code == 401


def test_disabled_user_key_is_401():
    user = make_user()
    org, _ = make_org(owner=user)
    secret, key = make_key(org=org, user=user)
    user.is_active = False
    user.save()
    assert client_for(secret).get("/api/me").status_code == 401
