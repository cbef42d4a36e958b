"""What storage last said about a multipart upload is shared by every web process (Redis): the
upload's start counts as storage's answer, so its first part URLs ask storage nothing; a part
asked for again is checked in storage whichever process signed it first; and without Redis
every part URL asks storage (a lost upload is 410 at once)."""

import pytest
import requests

from devtools.processes import free_port, stop
from marketplace.storage import s3_client
from tests.assertions import assert_error
from tests.marketplace.test_part_url_probe import lose_in_storage, start_upload
from tests.ops.test_two_web import process_env, start_web


class StorageCalls:
    """The storage operations this process's client sends (botocore's own event hooks)."""

    def __init__(self):
        self.names: list[str] = []
        self.client = s3_client()
        self.client.meta.events.register("before-call.s3", self._seen)

    def _seen(self, model, **_):
        self.names.append(model.name)

    def close(self):
        self.client.meta.events.unregister("before-call.s3", self._seen)


@pytest.fixture
def storage_calls():
    calls = StorageCalls()
    yield calls.names
    calls.close()


@pytest.mark.django_db
def test_the_first_part_urls_of_a_new_upload_ask_storage_nothing(settings, provider, storage_calls):
    settings.STORAGE_PROBE_CACHE_SECONDS = 3600
    client, fid = start_upload(provider.secret)
    assert storage_calls == ["CreateMultipartUpload"]
    for number in (1, 2, 3):
        assert client.get(f"/api/uploads/{fid}/parts/{number}").status_code == 200
    assert storage_calls == ["CreateMultipartUpload"]
    # A retry is still checked in storage.
    assert client.get(f"/api/uploads/{fid}/parts/2").status_code == 200
    assert storage_calls == ["CreateMultipartUpload", "ListParts"]


@pytest.mark.django_db
def test_without_redis_every_part_url_asks_storage(settings, provider):
    settings.STORAGE_PROBE_CACHE_SECONDS = 3600
    client, fid = start_upload(provider.secret)
    assert client.get(f"/api/uploads/{fid}/parts/1").status_code == 200
    lose_in_storage(fid)
    # Nothing listens on this port: the shared record cannot be read, storage is asked.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    assert_error(client.get(f"/api/uploads/{fid}/parts/2"), 410, "upload_lost")


@pytest.fixture
def second_web(transactional_db):
    """Another web process (gunicorn, as in production) on the same database and Redis."""
    env = process_env("part-url-probe")
    env["STORAGE_PROBE_CACHE_SECONDS"] = "3600"
    proc, base = start_web(env, "127.0.0.1")
    try:
        yield base
    finally:
        log = stop(proc, timeout=30)
        assert "Traceback" not in log, log[-4000:]


def test_a_part_retried_on_another_process_is_checked_in_storage(settings, provider, second_web):
    settings.STORAGE_PROBE_CACHE_SECONDS = 3600
    client, fid = start_upload(provider.secret)

    def other(number: int) -> requests.Response:
        return requests.get(
            f"{second_web}/api/uploads/{fid}/parts/{number}",
            headers={"Authorization": f"Bearer {provider.secret}"},
            timeout=30,
        )

    assert client.get(f"/api/uploads/{fid}/parts/1").status_code == 200
    assert other(2).status_code == 200
    lose_in_storage(fid)
    # Part 2 again, on this process, which never signed it: a retry all the same.
    assert_error(client.get(f"/api/uploads/{fid}/parts/2"), 410, "upload_lost")
    # Storage said it lost the upload: the other process asks it too, for any part.
    lost = other(5)
    assert lost.status_code == 410 and lost.json()["error"] == "upload_lost", lost.text
