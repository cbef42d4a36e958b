"""Catalogue pages are cached, and never stale after a publish or a removal commits."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devtools.processes import free_port
from marketplace.services.review import dataset_remove
from tests.catalogue_helpers import api, publish_dataset
from tests.factories import make_key, make_user

pytestmark = pytest.mark.django_db


def ids(body):
    return [d["id"] for d in body["items"]]


def test_repeat_is_served_from_cache_and_changes_show_at_once():
    secret, _ = make_key(uploads=True)
    _, first = publish_dataset(secret, name="Alpha corpus")
    assert ids(api().get("/api/datasets").json()) == [first.dataset.public_id]
    with CaptureQueriesContext(connection) as queries:
        assert ids(api().get("/api/datasets").json()) == [first.dataset.public_id]
        assert api().get("/api/datasets/filters").status_code == 200
        assert api().get("/api/datasets/filters").status_code == 200
    # filters: one miss (its distinct queries), the rest from the cache
    list_queries = [q for q in queries.captured_queries if "COUNT(" in q["sql"]]
    assert list_queries == []

    _, second = publish_dataset(secret, name="Beta corpus")
    assert set(ids(api().get("/api/datasets").json())) == {
        first.dataset.public_id,
        second.dataset.public_id,
    }
    dataset_remove(dataset=first.dataset, actor=make_user(is_staff=True), reason="takedown")
    assert ids(api().get("/api/datasets").json()) == [second.dataset.public_id]
    assert ids(api().get("/api/datasets", {"q": "alpha"}).json()) == []


def test_catalogue_still_answers_when_the_cache_is_down(settings):
    secret, _ = make_key(uploads=True)
    _, version = publish_dataset(secret)
    # Django rebuilds its cache handlers when CACHES changes; throttles fail open too.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    response = api().get("/api/datasets")
    assert response.status_code == 200
    assert ids(response.json()) == [version.dataset.public_id]
    assert api().get("/api/datasets/filters").status_code == 200
    assert api(secret).get("/api/me").status_code == 200
