import time

import pytest

from tests.catalogue_helpers import make_archive, publish_dataset
from tests.factories import make_key, make_user

pytestmark = pytest.mark.django_db


def test_timing():
    secret, key = make_key(uploads=True)
    reviewer = make_user(is_staff=True)
    data = make_archive(1000)
    t = time.monotonic()
    for i in range(20):
        publish_dataset(secret, name=f"D {i}", data=data, reviewer=reviewer)
    print("per publish", (time.monotonic() - t) / 20)
