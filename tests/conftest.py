import pytest
from django.conf import settings

from devtools.stripe_emulator.process import run_emulator
from tests.servers import start_moto


@pytest.fixture(scope="session")
def moto_url():
    server, url = start_moto()
    yield url
    server.stop()


@pytest.fixture(scope="session")
def stripe_emulator_url():
    with run_emulator() as emulator:
        yield emulator.url


@pytest.fixture(scope="session", autouse=True)
def local_services(moto_url, stripe_emulator_url):
    """Point the whole test session at the real local servers and create the bucket."""
    from django.core.files.storage import storages

    settings.AWS_S3_ENDPOINT_URL = moto_url
    settings.STRIPE_API_BASE = stripe_emulator_url
    storages._storages = {}
    from marketplace.storage import storage_bootstrap

    storage_bootstrap(cors_origins=["http://testserver"])
    return {"s3": moto_url, "stripe": stripe_emulator_url}


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: the test database is rolled back between tests,
    so cached catalogue pages or throttle counters of another test must not leak in."""
    from django.core.cache import cache

    cache.clear()
