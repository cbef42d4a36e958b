"""The API against its own OpenAPI schema (drf-spectacular's, served at /api/schema), fuzzed by
schemathesis through the WSGI application: every operation, a few generated cases each (valid and
invalid input), sent anonymously, with a provider's key and with a buyer's key. No response may be
a server error, and every response must be one the schema documents: its status code, content
type and body shape. A failure names the operation and the call that broke it."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from marketplace.services.identity import api_key_create
from tests.catalogue_helpers import make_archive, publish_dataset
from tests.parties import party

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Bounded: a few examples per operation and mode, always the same ones (derandomized), no
# deadline (the machine is shared and slow) and no example database between runs.
EXAMPLES = settings(
    max_examples=5,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)

# Operations fuzzed with generated input only where they need what a generator cannot make:
# (none today; add `"METHOD /api/path": "reason"` with the reason when one must be excluded)
EXCLUDED: dict[str, str] = {}


def _app():
    """Django's WSGI application, run in the test's own thread and transaction. The request
    signals would close the test's connection (it is inside the test transaction), so they are
    silenced during each request, as Django's test client does."""
    application = get_wsgi_application()

    def app(environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            return application(environ, start_response)
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)

    return app


def _fresh_secret(p) -> str:
    """A new key of the party's owner for each case: a case may revoke the key it was sent with
    (DELETE /api/keys/{id}), and the next case must still authenticate."""
    return api_key_create(actor=p.actor, name="fuzz").secret


def _caller(label, parties, known, failures):
    """The body of one operation's property test: the case sent by each party, once as
    generated and once more with the path parameters of real objects when it has any."""

    def call(case):
        generated = dict(case.path_parameters or {})
        real = {name: known[name] for name in generated if name in known}
        variants = [generated, {**generated, **real}] if real else [generated]
        for who, p in parties.items():
            headers = {"Authorization": f"Bearer {_fresh_secret(p)}"} if p else {}
            for path_parameters in variants:
                case.path_parameters = path_parameters
                response = case.call(headers=headers)
                try:
                    case.validate_response(response, checks=CHECKS, headers=headers)
                except (AssertionError, FailureGroup) as exc:  # all reported at the end
                    found = exc.exceptions if isinstance(exc, FailureGroup) else [exc]
                    for failure in found:
                        title = getattr(failure, "title", type(failure).__name__)
                        failures.setdefault(
                            (label, who, response.status_code, title),
                            f"{label} as {who} {path_parameters}: {response.status_code} "
                            f"{response.text[:300]!r}\n    {title}: {str(failure)[:600]}",
                        )

    return call


def test_every_operation_conforms_to_the_schema():
    provider = party(uploads=True)
    buyer = party()
    sid, version = publish_dataset(provider.secret, name="Fuzzed speech", data=make_archive(2_000))
    known = {
        "id_or_slug": version.dataset.slug,
        "dataset_id": str(version.dataset.public_id),
        "submission_id": sid,
    }

    schema = schemathesis.openapi.from_wsgi("/api/schema", _app())
    failures: dict[tuple, str] = {}
    parties = {"anonymous": None, "provider": provider, "buyer": buyer}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in EXCLUDED:
            continue
        operations += 1

        call = _caller(label, parties, known, failures)

        raw = operation.definition.raw
        # Invalid input exists only for an operation that takes some.
        modes = [GenerationMode.POSITIVE]
        if raw.get("parameters") or raw.get("requestBody"):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            strategy = operation.as_strategy(generation_mode=mode)
            try:
                EXAMPLES(given(case=strategy)(call))()
            except Unsatisfiable:
                # no invalid value exists for its parameters (e.g. free-text path segments)
                assert mode is GenerationMode.NEGATIVE, label

    assert operations > 30
    assert not failures, "\n".join(failures.values())


def _validated(schema, path, method, headers, **case):
    """One call through the WSGI app, held to the schema (raises what schemathesis finds)."""
    operation = schema[path][method]
    made = operation.Case(**case)
    response = made.call(headers=headers)
    made.validate_response(response, checks=CHECKS, headers=headers)
    return response


def test_keys_list_shape_and_nullable_fields_are_documented():
    """GET /api/keys is `{"items": [...]}` (plain and all=true), and a key never used, a
    revoked key and an organisation not yet approved carry nulls the schema allows."""
    from marketplace.services.identity import api_key_revoke

    owner = party()
    unused = api_key_create(actor=owner.actor, name="never used")
    revoked = api_key_create(actor=owner.actor, name="revoked")
    api_key_revoke(key=revoked.key, actor=owner.actor)
    schema = schemathesis.openapi.from_wsgi("/api/schema", _app())
    headers = {"Authorization": f"Bearer {owner.secret}"}

    for query in ({}, {"all": "true"}):
        body = _validated(schema, "/api/keys", "GET", headers, query=query).json()
        by_id = {item["id"]: item for item in body["items"]}
        assert by_id[str(unused.key.pk)]["lastUsedAt"] is None
    assert by_id[str(revoked.key.pk)]["revokedAt"] is not None
    me = _validated(schema, "/api/me", "GET", headers).json()
    assert me["organization"]["uploadApprovedAt"] is None
    key = _validated(
        schema, "/api/keys/{key_id}", "GET", headers, path_parameters={"key_id": unused.key.pk}
    ).json()
    assert key["lastUsedAt"] is None and key["revokedAt"] is None


def test_croissant_is_documented_as_json_ld(provider):
    _sid, version = publish_dataset(provider.secret, name="Croissant", data=make_archive(2_000))
    schema = schemathesis.openapi.from_wsgi("/api/schema", _app())
    response = _validated(
        schema,
        "/api/datasets/{id_or_slug}/croissant",
        "GET",
        {},
        path_parameters={"id_or_slug": version.dataset.slug},
    )
    assert response.headers["content-type"][0].startswith("application/ld+json")


def test_every_operation_documents_its_errors_with_the_envelope():
    from django.test import Client

    raw = Client().get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    error = raw["components"]["schemas"]["Error"]
    assert error["required"] == ["message", "error"]
    envelope = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, item in raw["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for status in ("401", "429"):
                assert responses[status]["content"] == envelope, (method, path, status)
            if "{" in path:
                assert responses["404"]["content"] == envelope, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= set(responses), (method, path)
    uploads = raw["paths"]["/api/uploads"]["post"]["responses"]
    assert {"409", "422", "503"} <= set(uploads)
    orders = raw["paths"]["/api/orders"]["post"]["responses"]
    assert {"404", "409", "503"} <= set(orders)
