"""Every budget of a request is taken in one Redis round trip (issue 14, download sessions):
the caller's budget and a costly route's two are one script call, counted in order up to the
first budget that refuses, as separate throttles would count them."""

import pytest
import redis
from django.conf import settings as django_settings

from marketplace.throttling import budgets_take
from tests.catalogue_helpers import api
from tests.factories import make_key

pytestmark = pytest.mark.django_db


def _evals(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("eval", "evalsha"))


def _counter(client: redis.Redis, key: str) -> int:
    return int(client.get(f"throttle:{key}") or 0)


def test_a_costly_request_takes_its_three_budgets_in_one_call(settings):
    client = redis.Redis.from_url(django_settings.CACHES["default"]["LOCATION"])
    secret, key = make_key()
    caller = api(secret)
    caller.post("/api/orders", {}, format="json")  # warm-up (authentication cache)
    before = _evals(client)
    caller.post("/api/orders", {}, format="json")
    assert _evals(client) - before == 1
    assert _counter(client, f"caller:key:{key.pk}") == 2
    assert _counter(client, f"orders:caller:key:{key.pk}") == 2
    assert _counter(client, "orders:ip:127.0.0.1") == 2


def test_budgets_count_in_order_up_to_the_first_refusal():
    client = redis.Redis.from_url(django_settings.CACHES["default"]["LOCATION"])
    budgets = [("t:first", 5, 60), ("t:tight", 1, 60), ("t:after", 5, 60)]
    assert budgets_take(budgets) == (True, 0.0)
    allowed, wait = budgets_take(budgets)
    assert not allowed and 0 < wait <= 60
    # The refusing budget and those before it counted the request; the one after did not.
    assert [_counter(client, k) for k, _, _ in budgets] == [2, 2, 1]
    assert client.pttl("throttle:t:after") > 0
