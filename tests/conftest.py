"""Fixtures of the whole test suite: the local servers, the parties of a test (built through the
services, see tests/parties.py) and the seeded catalogue licenses. Helpers that tests import
live in modules: tests/parties.py, tests/assertions.py, tests/webhooks.py, tests/factories.py."""

import importlib

import pytest
from django.apps import apps
from django.conf import settings

from devtools.stripe_emulator.process import run_emulator
from licensing.models import License
from marketplace.models import User
from tests.factories import make_user
from tests.parties import Party, contributor_party, party
from tests.servers import start_moto

SEED = importlib.import_module("licensing.migrations.0002_seed_catalogue_licenses")
DATABASE_FIXTURES = {"db", "transactional_db", "live_server", "django_db_reset_sequences"}


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


@pytest.fixture(autouse=True)
def _celery_join_flag():
    """Eager tasks run in a test's worker threads (concurrent webhook deliveries) leave Celery's
    process-wide "inside a task" flag set; a later test's `result.get()` would then refuse to
    run. Each test starts with it cleared."""
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)
    yield
    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _catalogue_licenses(request):
    """The catalogue licenses the data migration seeds. A transactional test (live server)
    flushes every table when it ends, seeded rows included, so each test that uses the database
    puts them back when they are missing (one COUNT otherwise); other tests are left alone."""
    uses_db = request.node.get_closest_marker("django_db") is not None
    if not uses_db and DATABASE_FIXTURES.isdisjoint(request.fixturenames):
        return
    request.getfixturevalue("db")
    if License.objects.filter(organization__isnull=True).count() < len(SEED.LICENSES):
        SEED.seed(apps, None)


@pytest.fixture
def provider(db) -> Party:
    """An organisation approved for uploads, its owner and the owner's key."""
    return party(uploads=True)


@pytest.fixture
def buyer(db) -> Party:
    return party()


@pytest.fixture
def outsider(db) -> Party:
    """Another organisation, which must see nothing of the others'."""
    return party()


@pytest.fixture
def staff(db) -> User:
    """A staff user (reviews submissions, decides upload access, uses the admin)."""
    return make_user(is_staff=True)


@pytest.fixture
def reviewer(staff) -> User:
    return staff


@pytest.fixture
def contributor(provider) -> Party:
    """A person with an account (and organisation) of their own who claimed the contributor
    profile the provider invited through the share table of a dataset it published. The profile:
    `contributor.user.contributor`."""
    return contributor_party(owner=provider)
