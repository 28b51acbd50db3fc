"""Rate limits count the last minute, not the clock's minute: a burst straddling a minute's end is refused."""

from __future__ import annotations

import os
import secrets

import pytest

from app.ratelimit import hit
from tests.conftest import need_service

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["process", "redis"])
def counters(request, app):
    """The app with in-process counters, or with counters in the real Redis server."""
    if request.param == "redis":
        from redis import Redis
        from redis.exceptions import ConnectionError as RedisConnectionError

        try:
            Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        except RedisConnectionError as err:
            need_service("Redis", str(err))
        app.config["REDIS_URL"] = REDIS_URL
    yield app
    app.config.pop("REDIS_URL", None)
    app.extensions.pop("aufsicht.ratelimit.redis", None)


def test_a_burst_across_the_minutes_end_is_refused(counters):
    key = f"test:{secrets.token_hex(4)}"
    start = 1_800_000_000 // 60 * 60 + 59.0  # one second before a minute ends
    with counters.app_context():
        assert [hit(key, 3, now=start + 0.1 * i) for i in range(3)] == [True, True, True]
        # Under a fixed window these would pass again: the clock's minute changed.
        assert [hit(key, 3, now=start + 1.5 + 0.1 * i) for i in range(3)] == [False, False, False]


def test_the_limit_frees_up_as_the_minute_slides(counters):
    key = f"test:{secrets.token_hex(4)}"
    start = 1_800_000_000 // 60 * 60 + 30.0
    with counters.app_context():
        assert all(hit(key, 3, now=start + i) for i in range(3))
        assert not hit(key, 3, now=start + 10)
        # 75 s later the previous minute weighs a quarter: 4 counted * 0.25 + 1 = 2 within the limit.
        assert hit(key, 3, now=start + 75)
        assert hit(key, 3, now=start + 80)
